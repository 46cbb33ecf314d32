import pino, { type Logger as PinoLogger, type DestinationStream } from 'pino';
import type { LogLevel } from '../config/types';

export type Logger = PinoLogger;

// JSON lines on stdout: journald stores them as-is, with its own host and time stamps alongside.
// Level names instead of numbers so `journalctl -u slipstream | grep '"level":"error"'` works.
export function createLogger(level: LogLevel = 'info', dest?: DestinationStream): Logger {
  const opts = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return dest ? pino(opts, dest) : pino(opts, pino.destination({ dest: 1, sync: true }));
}

// For code paths that need a logger but are run where logs are unwanted (tests, CLI client commands).
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
