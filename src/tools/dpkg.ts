/** dpkg-query over another system's dpkg database (a rootfs), never the build host's. */
import { run } from './process.js';

/** "package<TAB>version" lines as dpkg-query prints them for the database in `admindir`, unsorted. */
export async function dpkgQueryPackages(admindir: string): Promise<string> {
  const { stdout } = await run('dpkg-query', [`--admindir=${admindir}`, '-W', '--showformat=${Package}\t${Version}\n'], {
    what: 'dpkg-query of the rootfs',
  });
  return stdout;
}
