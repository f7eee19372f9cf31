/**
 * How big the pool and the reserve should be, learnt from peaks: the most databases of the project
 * in use at once, and the most one harness (one test file) handed out at once, seen by this harness
 * or remembered on the template from past runs.
 */
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

/** Upper bound of the pool size learnt from past peaks (disk: one template's size per clone). */
const MAX_LEARNED_POOL = 32;
/** Upper bound of the reserve claimed ahead for one harness. */
const MAX_RESERVE = 16;

/** The peaks of one harness, and what they remembered of past runs. */
export class Peaks {
  /** Most databases of this project in use at once, seen by this harness or remembered on the template. */
  #inUse = 0;
  #rememberedInUse = 0;
  /** Most databases this harness (one test file) has handed out at once, or remembered from past runs. */
  #file = 0;
  #rememberedFile = 0;

  /** Read the peaks remembered on the template (its comment), as this harness's starting peaks. */
  async load(pool: DatabasePool, template: string): Promise<void> {
    const comment = await pool.maybeOneFirst(sql.type(z.object({ comment: z.string().nullable() }))`
        select shobj_description(oid, 'pg_database') as comment from pg_database
        where datname = ${template}`);
    this.#rememberedInUse = Number(/\bpeak=(\d+)/.exec(comment ?? '')?.[1] ?? 0);
    this.#rememberedFile = Number(/\bfile-peak=(\d+)/.exec(comment ?? '')?.[1] ?? 0);
    this.#inUse = this.#rememberedInUse;
    this.#file = this.#rememberedFile;
  }

  /** The project has `count` databases in use now. */
  sawInUse(count: number): void {
    this.#inUse = Math.max(this.#inUse, count);
  }

  /** This harness has handed out `count` databases that are still in use. */
  sawFile(count: number): void {
    this.#file = Math.max(this.#file, count);
  }

  /**
   * How many clones to keep ready: `poolSize`, or more when this project's suites have held more
   * databases at once (every harness, thread or process; remembered on the template across runs),
   * up to {@link MAX_LEARNED_POOL}. A suite's peak is what its next burst of tests will ask for.
   */
  poolTarget(poolSize: number): number {
    return poolSize === 0 ? 0 : Math.max(poolSize, Math.min(MAX_LEARNED_POOL, this.#inUse));
  }

  /**
   * How many clones to hold claimed ahead for this harness: what a test file has held at once
   * (remembered across runs) less what this one holds now (`held`), at least 1, at most
   * {@link MAX_RESERVE}; none without a pool.
   */
  reserveTarget(poolSize: number, held: number): number {
    return poolSize === 0 ? 0 : Math.min(MAX_RESERVE, Math.max(1, this.#file - held));
  }

  /**
   * Remember the peaks on the template for the next run (`COMMENT ON DATABASE`), so that its pool
   * starts at the size the suite needs. Best effort: a comment written at the same time by another
   * harness ("tuple concurrently updated") only loses a peak that one also saw.
   */
  async remember(pool: DatabasePool, template: string): Promise<void> {
    if (this.#inUse <= this.#rememberedInUse && this.#file <= this.#rememberedFile) return;
    const comment =
      `offloop-testing peak=${String(Math.max(this.#inUse, this.#rememberedInUse))} ` +
      `file-peak=${String(Math.max(this.#file, this.#rememberedFile))}`;
    await pool
      .query(
        sql.unsafe`
          comment on database ${sql.identifier([template])} is ${sql.literalValue(comment)}`,
      )
      .catch(() => undefined);
  }
}
