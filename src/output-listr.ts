/** listr2 set up the way src/output.ts says: progress on stderr, ASCII icons outside a UTF-8 locale, silent under --quiet. */
import { ListrLogLevels, ListrLogger, ProcessOutput } from 'listr2';
import { isQuiet, unicodeLocale, type Env } from './output.js';

/** listr2's icons in ASCII, for a locale that is not UTF-8. */
const ASCII_ICONS: Record<string, string> = {
  [ListrLogLevels.STARTED]: '>',
  [ListrLogLevels.COMPLETED]: 'OK',
  [ListrLogLevels.FAILED]: 'FAIL',
  [ListrLogLevels.SKIPPED]: 'skip',
  [ListrLogLevels.OUTPUT]: '|',
  [ListrLogLevels.TITLE]: '-',
  [ListrLogLevels.RETRY]: '!',
  [ListrLogLevels.ROLLBACK]: '<',
  [ListrLogLevels.PAUSED]: '#',
};

/**
 * listr2 options that put its progress on stderr: the updating renderer when stderr is a terminal in a UTF-8 locale,
 * else one line per event (ASCII icons outside UTF-8); nothing under --quiet.
 */
export function listrOutputOptions(env: Env = process.env): {
  silentRendererCondition: boolean;
  fallbackRendererCondition: boolean;
  rendererOptions: { collapseSubtasks: false; logger: ListrLogger };
  fallbackRendererOptions: { logger: ListrLogger; icon?: Record<string, string> };
} {
  const logger = (): ListrLogger =>
    new ListrLogger({ useIcons: true, toStderr: Object.values(ListrLogLevels), processOutput: new ProcessOutput(process.stderr, process.stderr) });
  const unicode = unicodeLocale(env);
  return {
    silentRendererCondition: isQuiet(),
    fallbackRendererCondition: !process.stderr.isTTY || Boolean(env.CI) || !unicode,
    rendererOptions: { collapseSubtasks: false, logger: logger() },
    fallbackRendererOptions: unicode ? { logger: logger() } : { logger: logger(), icon: ASCII_ICONS },
  };
}

/** True when listr2 redraws task output in place (its default renderer): a status line may then update often. */
export function liveOutput(env: Env = process.env): boolean {
  const opts = listrOutputOptions(env);
  return !opts.silentRendererCondition && !opts.fallbackRendererCondition;
}
