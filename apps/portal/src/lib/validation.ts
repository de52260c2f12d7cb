/** Client-side checks that mirror the server's rules, so a form can say what is wrong before it is sent. */

export const PASSWORD_POLICY =
  'The password must be 8 to 128 characters long and contain at least one upper-case letter, one lower-case letter and one digit.';

/** Harbor's rule for passwords and robot secrets, as a hint next to the field. */
export const CREDENTIAL_RULE =
  '8 to 128 characters, with at least one upper-case letter, one lower-case letter and one digit.';

/** Why a password breaks Harbor's policy, or undefined when it is acceptable. `noun` is "password" or "secret". */
export function passwordProblem(value: string, noun = 'password'): string | undefined {
  const length = [...value].length;
  if (length < 8) return `The ${noun} must be at least 8 characters long.`;
  if (length > 128) return `The ${noun} must be at most 128 characters long.`;
  const missing: string[] = [];
  if (!/[A-Z]/.test(value)) missing.push('one upper-case letter');
  if (!/[a-z]/.test(value)) missing.push('one lower-case letter');
  if (!/[0-9]/.test(value)) missing.push('one digit');
  if (missing.length === 0) return undefined;
  const list = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
  return `The ${noun} must contain at least ${list}.`;
}

const PROJECT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** Harbor's project name rule: 1–255 lower-case letters and digits, with . _ - only between them. */
export function projectNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'Enter a project name.';
  if (name.length > 255) return 'The project name must be at most 255 characters long.';
  if (/[A-Z]/.test(name)) return 'The project name must be in lower case.';
  if (!PROJECT_NAME.test(name)) {
    return 'The project name may contain only lower-case letters, digits and . _ - , must start and end with a letter or digit, and must not have two separators in a row.';
  }
  return undefined;
}

const EMAIL =
  /^(([^<>()[\]\\.,;:\s@"]+(\.[^<>()[\]\\.,;:\s@"]+)*)|(".+"))@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$/;

export function emailProblem(email: string): string | undefined {
  if (email.length === 0) return 'Enter an email address.';
  if ([...email].length > 255) return 'The email address must be at most 255 characters long.';
  if (!EMAIL.test(email)) return 'Enter a valid email address, like name@example.com.';
  return undefined;
}

export function realnameProblem(realname: string): string | undefined {
  const length = [...realname].length;
  if (length < 1) return 'Enter a full name.';
  if (length > 255) return 'The full name must be at most 255 characters long.';
  const illegal = [',', '~', '#', '$', '%'].filter((c) => realname.includes(c));
  if (illegal.length > 0) return `The full name must not contain ${illegal.join(' ')}.`;
  return undefined;
}

export function commentProblem(comment: string): string | undefined {
  return [...comment].length > 30 ? 'The comment must be at most 30 characters long.' : undefined;
}
