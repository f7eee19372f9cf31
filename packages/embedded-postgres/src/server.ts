/** What {@link startEmbeddedPostgres} takes and what it returns: the public types of a server. */

/** Options of {@link startEmbeddedPostgres}. */
export type EmbeddedPostgresOptions = {
  /**
   * The cluster's data directory. Initialised (`initdb`) when it holds no `PG_VERSION` yet,
   * reused otherwise. When the process runs as root, the server runs as the `postgres` OS user
   * (created if missing), which must be able to traverse every parent of this directory.
   */
  readonly dataDir: string;
  /**
   * Keep the data directory when the server stops. With `false` the directory is deleted on
   * {@link EmbeddedPostgres.stop}, and durability is traded for speed (`fsync=off`).
   * @default true
   */
  readonly persistent?: boolean;
  /**
   * TCP port on 127.0.0.1.
   * @default a free port chosen by the operating system
   */
  readonly port?: number;
  /**
   * Password of the `postgres` superuser. It is set when the cluster is initialised; a
   * persistent cluster keeps the password it was created with.
   * @default 'postgres'
   */
  readonly password?: string;
};

/** A running embedded PostgreSQL server. Stop it with {@link EmbeddedPostgres.stop} or `await using`. */
export type EmbeddedPostgres = {
  /** Superuser connection string, `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** TCP port the server listens on, on 127.0.0.1 only. */
  readonly port: number;
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  /** PostgreSQL server version, such as `18.4`. */
  readonly version: string;
  /**
   * Stop the server (fast shutdown) and wait until its process has exited; with
   * `persistent: false`, delete the data directory. Safe to call more than once.
   */
  stop(): Promise<void>;
  /** Same as {@link EmbeddedPostgres.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
};
