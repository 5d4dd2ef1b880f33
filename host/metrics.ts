// proxy_define_metric and friends with Envoy's rules: the metric type lives in the low two bits
// of the id (counters 0, 4, 8…; gauges 1, 5…; histograms 2, 6…), counters only go up, gauges go
// both ways, histograms only record, and reading a histogram is a BadArgument.
import { MetricType, Status } from "./abi-types";

const TYPE_MASK = 0x3;
const ID_STEP = 4;

interface Metric {
  type: MetricType;
  name: string;
  value: bigint;
  samples: number[];
}

export type MetricsSnapshot = Record<string, number | number[]>;

export class Metrics {
  private readonly byId = new Map<number, Metric>();
  private readonly byName = new Map<string, Metric>();
  private readonly nextId = [MetricType.Counter, MetricType.Gauge, MetricType.Histogram];

  define(type: number, name: string): { status: Status; id: number } {
    if (type > MetricType.Histogram) return { status: Status.BadArgument, id: 0 };
    // Envoy hands out a fresh id per definition; the same name still means the same stat.
    const key = `${type}:${name}`;
    let metric = this.byName.get(key);
    if (metric === undefined) {
      metric = { type, name, value: 0n, samples: [] };
      this.byName.set(key, metric);
    }
    const id = this.nextId[type];
    this.nextId[type] += ID_STEP;
    this.byId.set(id, metric);
    return { status: Status.Ok, id };
  }

  increment(id: number, delta: bigint): Status {
    const type = id & TYPE_MASK;
    const m = this.byId.get(id);
    if (type === MetricType.Histogram) return Status.BadArgument;
    if (m === undefined) return Status.NotFound;
    if (type === MetricType.Counter && delta <= 0n) return Status.BadArgument;
    m.value += delta;
    return Status.Ok;
  }

  record(id: number, value: bigint): Status {
    const m = this.byId.get(id);
    if (m === undefined) return Status.NotFound;
    if (m.type === MetricType.Counter) m.value += value;
    else if (m.type === MetricType.Gauge) m.value = value;
    else m.samples.push(Number(value));
    return Status.Ok;
  }

  get(id: number): { status: Status; value: bigint } {
    const type = id & TYPE_MASK;
    if (type === MetricType.Histogram || type > MetricType.Histogram) return { status: Status.BadArgument, value: 0n };
    const m = this.byId.get(id);
    if (m === undefined) return { status: Status.NotFound, value: 0n };
    return { status: Status.Ok, value: m.value };
  }

  /** Counters and gauges by name as numbers; histograms as their recorded samples. */
  snapshot(): MetricsSnapshot {
    const out: MetricsSnapshot = {};
    for (const m of this.byName.values()) {
      out[m.name] = m.type === MetricType.Histogram ? [...m.samples] : Number(m.value);
    }
    return out;
  }
}
