import * as fs from 'fs';
import * as path from 'path';
import { randomBytes, createHash, timingSafeEqual } from 'crypto';
import type { Logger } from '../util/log';

export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenFileError';
  }
}

// Reads the API token, creating it (mode 0600) when the file does not exist. A token file that
// group or others can read is refused: anyone who can read it can reconfigure the fast path.
export function loadOrCreateToken(file: string, logger?: Logger): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TokenFileError(`token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return createToken(file, logger);
  }
  if (!st.isFile()) throw new TokenFileError(`token file ${file} is not a regular file`);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new TokenFileError(
      `refusing token file ${file}: mode ${mode.toString(8).padStart(4, '0')} lets group/others read it; run: chmod 600 ${file}`,
    );
  }
  const token = fs.readFileSync(file, 'utf8').trim();
  if (token.length < 16) throw new TokenFileError(`token file ${file} holds no usable token (need 16+ characters); delete it to have one generated`);
  return token;
}

function createToken(file: string, logger?: Logger): string {
  const token = randomBytes(32).toString('base64url');
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    // wx: never follow a link or overwrite a file created in the meantime.
    fs.writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateToken(file, logger);
    throw new TokenFileError(`cannot create token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  logger?.info({ token_file: file }, `generated a new API token in ${file}`);
  return token;
}

// Constant-time comparison of "Bearer <token>" against the expected token.
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return false;
  const a = createHash('sha256').update(m[1]).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}
