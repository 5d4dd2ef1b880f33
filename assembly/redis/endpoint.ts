// Where the Higress build's Redis is, as Higress's config names it. No host calls here: the
// config parser uses it in every build.

export class RedisEndpoint {
  constructor(
    public serviceName: string,
    public port: i32,
    public username: string,
    public password: string,
    public timeoutMs: u32,
    public database: i32,
  ) {}

  /** Higress's wrapper: `outbound|<port>||<name>?[db=<n>&]buffer_flush_timeout=3&max_buffer_size_before_flush=1024`. */
  clusterName(): string {
    let name = "outbound|" + this.port.toString() + "||" + this.serviceName + "?";
    if (this.database != 0) name += "db=" + this.database.toString() + "&";
    return name + "buffer_flush_timeout=3&max_buffer_size_before_flush=1024";
  }
}
