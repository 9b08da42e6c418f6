// Where the real servers are on this machine (Debian packages), with clear errors when one is missing.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const SEARCH_PATH = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/usr/lib/postgresql/15/bin'];

export function findBinary(name: string, hint: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...SEARCH_PATH]) {
    if (!dir) continue;
    const p = `${dir}/${name}`;
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} was not found on PATH or in ${SEARCH_PATH.join(', ')}; ${hint}`);
}

const SETUP_HINT = 'run `npm run setup` (deploy/setup.sh installs the Debian packages)';

export const mariadbBinaries = () => ({
  mariadbd: findBinary('mariadbd', SETUP_HINT),
  installDb: findBinary('mariadb-install-db', SETUP_HINT),
});

/** The physical copy's tools (Debian package mariadb-backup). */
export const mariadbBackupBinaries = () => ({
  backup: findBinary('mariadb-backup', SETUP_HINT),
  mbstream: findBinary('mbstream', SETUP_HINT),
});

export const postgresBinaries = () => {
  // The PostgreSQL 15 binaries live in a versioned directory that is not on PATH on Debian.
  const dir = '/usr/lib/postgresql/15/bin';
  const pick = (n: string) => (existsSync(`${dir}/${n}`) ? `${dir}/${n}` : findBinary(n, SETUP_HINT));
  return { postgres: pick('postgres'), initdb: pick('initdb') };
};

export const natsBinary = () => findBinary('nats-server', SETUP_HINT);

let mariadbVersionCache: string | null = null;
export function mariadbVersion(): string {
  mariadbVersionCache ??= execFileSync(mariadbBinaries().mariadbd, ['--version'], { encoding: 'utf8' })
    .trim()
    .replace(/\s+/g, ' ');
  return mariadbVersionCache;
}

/** The account name the current process runs as. */
export function currentUser(): string {
  return execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
}
