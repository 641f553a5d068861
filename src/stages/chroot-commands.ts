/** Stage: run the profile's commands inside the rootfs, in a chroot session that is always torn down. */
import { ChrootSession } from '../tools/chroot.js';
import type { StageTask } from './task.js';

export const chrootCommandsStage: StageTask = {
  skip: (ctx) => (ctx.profile.chroot.commands.length === 0 ? 'no chroot commands in the profile' : false),
  task: async (ctx, task) => {
    const commands = ctx.profile.chroot.commands;
    const session = await ChrootSession.open(ctx.rootfsView!, ctx.log);
    ctx.resources.push('chroot session', () => session.close());
    try {
      for (const [i, command] of commands.entries()) {
        task.output = `[${i + 1}/${commands.length}] ${command}`;
        ctx.log.section(`chroot command ${i + 1}/${commands.length}`);
        await session.exec(command, {
          env: { ...ctx.profile.chroot.env, ISO_BUILD_VERSION: ctx.version, ISO_BUILD_PROFILE: ctx.profile.name },
          what: `chroot command ${i + 1} (chroot.commands[${i}]: ${command})`,
          onLine: (line) => (task.output = line),
        });
      }
    } finally {
      await session.close();
    }
    task.title = `Run chroot commands: ${commands.length} done`;
  },
};
