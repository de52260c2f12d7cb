import { type RobotPermission } from './permissions.js';

/** A robot account as GET /robots answers it. */
export interface Robot {
  id: number;
  name: string;
  description: string;
  level: 'system' | 'project';
  duration: number | null;
  editable: boolean;
  disable: boolean;
  /** Unix seconds; -1 never expires. */
  expires_at: number;
  permissions: RobotPermission[];
  creator_type: string;
  creator_ref?: number;
  creation_time: string;
  update_time: string;
}

/** Robot names as Harbor accepts them: lower case, separators between alphanumerics, no "+". */
export const ROBOT_NAME_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const ROBOT_NAME_MAX = 255;
export const ROBOT_DESCRIPTION_MAX = 1024;
export const ROBOT_DURATION_MAX = 2_147_483_646;
export const NEVER_EXPIRES = -1;

export function robotNameProblem(name: string): string | undefined {
  if (name === '') return 'Enter a name.';
  if (name.length > ROBOT_NAME_MAX) return `The name must be at most ${ROBOT_NAME_MAX} characters.`;
  if (!ROBOT_NAME_PATTERN.test(name)) {
    return 'Use lower-case letters and digits, optionally separated by single ".", "_" or "-".';
  }
  return undefined;
}

/** The number of days typed in an expiration field, or why it is not one. */
export function parseDurationDays(text: string): { days: number } | { problem: string } {
  const trimmed = text.trim();
  if (!/^[0-9]+$/.test(trimmed)) return { problem: 'Enter a whole number of days.' };
  const days = Number(trimmed);
  if (days < 1) return { problem: 'Enter at least 1 day, or choose "Never expires".' };
  if (days > ROBOT_DURATION_MAX) return { problem: `Enter at most ${ROBOT_DURATION_MAX} days.` };
  return { days };
}

export function isExpired(robot: Pick<Robot, 'expires_at'>, nowMs: number = Date.now()): boolean {
  return robot.expires_at !== NEVER_EXPIRES && robot.expires_at * 1000 <= nowMs;
}

/** Latest instant a JavaScript Date holds, in Unix seconds. */
const MAX_DATE_SECONDS = 8.64e12;

/** When the robot expires, in the user's locale, or "Never". */
export function expiryText(robot: Pick<Robot, 'expires_at'>, locale?: string): string {
  if (robot.expires_at === NEVER_EXPIRES) return 'Never';
  if (robot.expires_at > MAX_DATE_SECONDS) return 'Never (far future)';
  return new Date(robot.expires_at * 1000).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The contents of the file the secret dialog offers: what Harbor's portal downloads, the name and the secret. */
export function secretFileContent(name: string, secret: string): string {
  return JSON.stringify({ name, secret });
}

/** A file name for the robot's credentials: its name with characters file systems dislike replaced. */
export function secretFileName(name: string): string {
  return `${name.replace(/[\\/:*?"<>|]/g, '_')}.json`;
}
