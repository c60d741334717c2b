/**
 * The modules the SDK evaluates once per workflow thread and shares between the workflows
 * of that thread (WORKFLOW_BUNDLER_OPTIONS.preloadModules in src/worker.ts) instead of
 * evaluating them again for each workflow run and keeping that copy while the run is cached:
 * the engagement core and, through it, the rules and the money arithmetic.
 *
 * What may be listed here (and imported by what is listed):
 * - Pure modules only: no per-workflow state at module level. The core's module-level state
 *   is either scratch that each call resets before it reads it (rules/grouping, rules/billability),
 *   or caches keyed by their input (rules/rates, engagement/calendar, engagement/intake):
 *   shared, they give every workflow the same results.
 * - Nothing that runs workflow APIs, the clock or randomness when it is loaded: these modules
 *   load before any workflow exists.
 * - Nothing that exports objects it changes later: the SDK deep-freezes everything preloaded
 *   modules export (a frozen object written to throws). That rules out zod and the canonical
 *   schemas: zod completes schema objects and resets shared regular expressions on use. The
 *   core loads them only for an amendment (engagement/amendments.ts), into that workflow.
 */
import * as engagement from '../engagement';

export const preloaded = [engagement];
