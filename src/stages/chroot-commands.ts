/**
 * Stage: reads the profile's chroot commands and the rootfs view; runs the commands inside it, in a chroot session that
 * is always torn down. They see the profile's name but not the version: their result is kept in the stage cache across
 * versions (a command that needs the version belongs in a hook, whose environment is in the cache key).
 */
import { ChrootSession } from '../tools/chroot.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

export async function chrootCommandsStage(ctx: BuildInputs, rootfsView: string, task: Reporter): Promise<void> {
  const commands = ctx.profile.chroot.commands;
  const session = await ChrootSession.open(rootfsView, ctx.log);
  ctx.resources.push('chroot session', () => session.close());
  try {
    for (const [i, command] of commands.entries()) {
      task.output = `[${i + 1}/${commands.length}] ${command}`;
      ctx.log.section(`chroot command ${i + 1}/${commands.length}`);
      await session.exec(command, {
        env: { ...ctx.profile.chroot.env, ISO_BUILD_PROFILE: ctx.profile.name },
        what: `chroot command ${i + 1} (chroot.commands[${i}]: ${command})`,
        onLine: (line) => (task.output = line),
        timeoutMs: ctx.profile.timeouts.chrootCommand * 1000,
        timeoutHint: `the profile's timeouts.chrootCommand is ${ctx.profile.timeouts.chrootCommand} s`,
      });
    }
  } finally {
    await session.close();
  }
  task.title = `Run chroot commands: ${commands.length} done`;
}
