/**
 * The checks Wharf's API makes on a new user, repeated in the form so that mistakes show before sending. The server
 * checks again and its message is shown if it still refuses.
 */

const ILLEGAL_USERNAME_CHARACTERS = [',', '"', '~', '#', '$', '%', ':'];
const ILLEGAL_REALNAME_CHARACTERS = [',', '~', '#', '$', '%'];
export const USERNAME_MAX = 255;
export const EMAIL_MAX = 255;
export const REALNAME_MAX = 255;
export const COMMENT_MAX = 30;

const EMAIL_FORMAT =
  /^(([^<>()[\]\\.,;:\s@"]+(\.[^<>()[\]\\.,;:\s@"]+)*)|(".+"))@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

function characters(value: string): number {
  return [...value].length;
}

function illegal(value: string, list: readonly string[]): string | undefined {
  const found = list.filter((c) => value.includes(c));
  return found.length > 0 ? `must not contain ${found.join(' ')}` : undefined;
}

export function usernameProblem(username: string): string | undefined {
  if (username === '') return 'Enter a user name.';
  if (characters(username) > USERNAME_MAX) return `The user name must be at most ${USERNAME_MAX} characters.`;
  const bad = illegal(username, ILLEGAL_USERNAME_CHARACTERS);
  if (bad) return `The user name ${bad} (none of ${ILLEGAL_USERNAME_CHARACTERS.join(' ')} may appear in it).`;
  if (CONTROL_CHARACTER.test(username)) return 'The user name must not contain control characters.';
  if (username.trim() !== username) return 'The user name must not start or end with a space.';
  return undefined;
}

export function emailProblem(email: string): string | undefined {
  if (email === '') return 'Enter an email address.';
  if (characters(email) > EMAIL_MAX) return `The email address must be at most ${EMAIL_MAX} characters.`;
  if (!EMAIL_FORMAT.test(email)) return 'Enter an email address such as name@example.com.';
  return undefined;
}

export function realnameProblem(realname: string): string | undefined {
  if (realname === '') return 'Enter the full name.';
  if (characters(realname) > REALNAME_MAX) return `The full name must be at most ${REALNAME_MAX} characters.`;
  const bad = illegal(realname, ILLEGAL_REALNAME_CHARACTERS);
  if (bad) return `The full name ${bad}.`;
  if (CONTROL_CHARACTER.test(realname)) return 'The full name must not contain control characters.';
  return undefined;
}

export function commentProblem(comment: string): string | undefined {
  return characters(comment) > COMMENT_MAX ? `The comment must be at most ${COMMENT_MAX} characters.` : undefined;
}
