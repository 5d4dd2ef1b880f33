// proxy_get_shared_data / proxy_set_shared_data: a VM-wide key-value store with a
// compare-and-swap token per key, as in Envoy (a set with a stale non-zero cas is refused).
import { Status } from "./abi-types";

export class SharedData {
  private readonly entries = new Map<string, { value: Buffer; cas: number }>();
  private nextCas = 1;

  get(key: string): { value: Buffer; cas: number } | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: Buffer, cas: number): Status {
    const current = this.entries.get(key);
    if (cas !== 0 && current !== undefined && current.cas !== cas) return Status.CasMismatch;
    this.entries.set(key, { value: Buffer.from(value), cas: this.nextCas++ });
    return Status.Ok;
  }
}
