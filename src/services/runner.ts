// A service's resources as one: started in the order written, stopped in reverse, checked all.
// A start that fails part way stops what it had started, so the service is either all up or, if
// that clean-up worked, all down and free to try elsewhere.
import { type Resource, type ResourceContext, ResourceError } from "./resource.js";

export interface StartOutcome {
  ok: boolean;
  /** After a failed start: everything that had started was stopped again. */
  cleanedUp: boolean;
  detail: string;
}

export interface Outcome {
  ok: boolean;
  detail: string;
}

function why(err: unknown): string {
  return err instanceof ResourceError ? err.message : err instanceof Error ? err.message : String(err);
}

export class ServiceRunner {
  constructor(
    private readonly resources: readonly Resource[],
    private readonly context: Omit<ResourceContext, "index">,
  ) {}

  private ctx(index: number): ResourceContext {
    return { ...this.context, index };
  }

  async start(): Promise<StartOutcome> {
    for (const [i, r] of this.resources.entries()) {
      try {
        await r.start(this.ctx(i));
      } catch (err) {
        // The one that failed may be half started: it is stopped too, then the rest in reverse.
        const stop = await this.stopFrom(i);
        return {
          ok: false,
          cleanedUp: stop.ok,
          detail: stop.ok ? why(err) : `${why(err)}; then stopping failed: ${stop.detail}`,
        };
      }
    }
    return { ok: true, cleanedUp: true, detail: `${this.resources.length} resources started` };
  }

  /** Stops every resource, last first, going on past a failure so as much as possible stops. */
  stop(): Promise<Outcome> {
    return this.stopFrom(this.resources.length - 1);
  }

  private async stopFrom(last: number): Promise<Outcome> {
    const failures: string[] = [];
    for (let i = last; i >= 0; i--) {
      try {
        await (this.resources[i] as Resource).stop(this.ctx(i));
      } catch (err) {
        failures.push(why(err));
      }
    }
    return failures.length === 0
      ? { ok: true, detail: "stopped" }
      : { ok: false, detail: failures.join("; ") };
  }

  /** Running only when every resource says so. */
  async check(): Promise<Outcome> {
    for (const [i, r] of this.resources.entries()) {
      try {
        const state = await r.status(this.ctx(i));
        if (state !== "running") return { ok: false, detail: `${r.name} is not running` };
      } catch (err) {
        return { ok: false, detail: why(err) };
      }
    }
    return { ok: true, detail: "running" };
  }
}
