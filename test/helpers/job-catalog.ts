// The one way tests check commands with the job types: checkCommand with the member's catalog
// (src/jobs/types) unless the test passes its own (e.g. JOB_DEFINITIONS.with([...test types])).
import { checkCommand as check, type CheckContext, type Command, type CommandResult } from '../../src/actors/commands/index.js';
import type { World } from '../../src/actors/world.js';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';

export { JOB_DEFINITIONS };

export function checkCommand(world: World, cmd: Command, ctx: CheckContext): CommandResult {
  return check(world, cmd, { ...ctx, jobs: ctx.jobs ?? JOB_DEFINITIONS });
}
