/**
 * The reaper: one small bash per iso-build process that kills what the build started when iso-build itself is gone,
 * even by SIGKILL (Node cannot set PR_SET_PDEATHSIG on its children). iso-build tells it, over its stdin pipe, the
 * process groups it starts and ends, the chroot roots and gpg homes in use. When the pipe reaches end of file (iso-build
 * exited, however it exited: the kernel closes the pipe) the reaper kills the groups still registered, every process
 * whose root lies in a registered chroot root (daemons a chroot command or hook left, in their own session), and every
 * process whose command line names a registered gpg home (gpg-agent daemonizes with setsid and leaves every group);
 * then it lazily unmounts the registered mounts (a loop device with autoclear goes with its mount).
 * Every command also carries this iso-build's token in its environment (REAP_ENV; process.ts): the reaper kills what
 * holds it too. That covers a command iso-build was killed in the instant after starting and before registering (seen
 * once in the fault matrix: a mksquashfs left running), and what such a command started.
 * After a normal end everything was unregistered and nothing holds the token: it exits having killed nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

/** The environment variable that carries this iso-build's token into every command it runs. */
export const REAP_ENV = 'ISO_BUILD_REAP_TOKEN';

const REAPER_SCRIPT = `
trap '' INT TERM HUP
groups=' '
roots=''
homes=''
mounts=''
token=''
while IFS=' ' read -r op arg; do
  case "$op" in
    t) token="$arg" ;;
    +) groups="$groups$arg " ;;
    -) groups=\${groups/ $arg / } ;; # bash, no fork: one of these per command the build runs
    r) roots="$roots$arg
" ;;
    R) roots=$(printf '%s' "$roots" | grep -vxF -- "$arg"; printf x); roots=\${roots%x} ;;
    h) homes="$homes$arg
" ;;
    H) homes=$(printf '%s' "$homes" | grep -vxF -- "$arg"; printf x); homes=\${homes%x} ;;
    m) mounts="$mounts$arg
" ;;
    M) mounts=$(printf '%s' "$mounts" | grep -vxF -- "$arg"; printf x); mounts=\${mounts%x} ;;
  esac
done
for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
if [ -n "$token" ]; then
  # One grep over every environment: NUL-separated entries, the whole entry must match.
  for f in $(grep -lzxF -- "${REAP_ENV}=$token" /proc/[0-9]*/environ 2>/dev/null); do
    pid=\${f#/proc/}; pid=\${pid%/environ}
    [ "$pid" = "$$" ] || kill -KILL "$pid" 2>/dev/null
  done
fi
unmount() {
  [ -n "$mounts" ] || return 0
  sleep 0.2 # the killed processes release their files first
  printf '%s' "$mounts" | tac | while IFS= read -r m; do [ -n "$m" ] && umount --lazy "$m" 2>/dev/null; done
}
[ -z "$roots$homes" ] && { unmount; exit 0; }
for p in /proc/[0-9]*; do
  pid=\${p#/proc/}
  [ "$pid" = "$$" ] && continue
  root=$(readlink "$p/root" 2>/dev/null) || continue
  cmd=$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
  hit=''
  while IFS= read -r r; do
    [ -n "$r" ] || continue
    case "$root/" in "$r"/*) hit=1 ;; esac
  done <<EOF
$roots
EOF
  while IFS= read -r h; do
    [ -n "$h" ] || continue
    case "$cmd" in *"$h"*) hit=1 ;; esac
  done <<EOF
$homes
EOF
  [ -n "$hit" ] && kill -KILL "$pid" 2>/dev/null
done
unmount
exit 0
`;

let reaper: ChildProcess | undefined;
let unavailable = false;

function send(line: string): void {
  if (unavailable) return;
  if (!reaper) {
    try {
      // Its own process group: a Ctrl-C to the terminal's foreground group does not reach it (it ignores it anyway).
      reaper = spawn('/bin/bash', ['-c', REAPER_SCRIPT, 'iso-build-reaper'], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    } catch {
      unavailable = true;
      return;
    }
    reaper.on('error', () => (unavailable = true));
    reaper.stdin?.on('error', () => (unavailable = true));
    reaper.unref();
    (reaper.stdin as Socket | null)?.unref();
  }
  // A path with a newline cannot be registered line by line (the group kill still covers what runs in it).
  if (line.indexOf('\n') !== line.length - 1) return;
  reaper.stdin?.write(line);
}

/** A process group (its leader's pid) that must not outlive iso-build. */
export function reapGroup(pgid: number): void {
  send(`+ ${pgid}\n`);
}

export function unreapGroup(pgid: number): void {
  send(`- ${pgid}\n`);
}

/** A chroot root: processes whose root lies in it are killed if iso-build dies. Returns the unregistration. */
export function reapRoot(root: string): () => void {
  send(`r ${root}\n`);
  return () => send(`R ${root}\n`);
}

/** A gpg home: processes naming it (its gpg-agent) are killed if iso-build dies. Returns the unregistration. */
export function reapGpgHome(home: string): () => void {
  send(`h ${home}\n`);
  return () => send(`H ${home}\n`);
}

/** A mount on the host's table: lazily unmounted, last registered first, if iso-build dies. */
export function reapMount(target: string): void {
  send(`m ${target}\n`);
}

export function unreapMount(target: string): void {
  send(`M ${target}\n`);
}

let token: string | undefined;

/** This iso-build's token (REAP_ENV), told to the reaper the first time it is asked for. */
export function reapToken(): string {
  if (token === undefined) {
    token = `${process.pid}-${randomBytes(8).toString('hex')}`;
    send(`t ${token}\n`);
  }
  return token;
}

/** The reaper's pid (tests), once started. */
export function reaperPid(): number | undefined {
  return reaper?.pid;
}
