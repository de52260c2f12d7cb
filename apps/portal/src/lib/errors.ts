import { WharfApiError } from '@wharf/api-client';

/**
 * Words for a user about a failed request. `action` names what was being done, in the form "delete the project"
 * or "see the members", and is woven into the sentence where it helps ("You are not allowed to delete the project.").
 * The server's own message, when it has one that says more than the status, replaces the status's words.
 */
export function errorText(error: unknown, action?: string): string {
  if (error instanceof WharfApiError) return apiErrorText(error, action);
  if (isNetworkFailure(error)) {
    return 'Wharf cannot be reached. Check your network connection and try again.';
  }
  if (error instanceof Error && error.message) return `Something went wrong${about(action)}: ${error.message}`;
  return `Something went wrong${about(action)}.`;
}

function about(action: string | undefined): string {
  return action ? ` while trying to ${action}` : '';
}

/** Messages that only repeat the status in other words, which the sentence already says. */
const GENERIC = /^(forbidden|not found|unauthorized|conflict|bad request|internal server error|precondition failed)$/i;

/** The server's messages, joined, without a trailing full stop, or '' when it sent none. */
function serverMessage(error: WharfApiError): string {
  return error.errors
    .map((e) => e.message.trim().replace(/\.+$/, ''))
    .filter((m) => m.length > 0 && !GENERIC.test(m))
    .join('; ');
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The server's message says what went wrong in its own words ("project web already exists"), so it stands alone
 * after the action; the status's own words are for answers without a message. Saying both repeats one thing twice.
 */
function failedWith(action: string | undefined, detail: string): string {
  return action ? `Could not ${action}: ${detail}.` : `${capitalize(detail)}.`;
}

function apiErrorText(error: WharfApiError, action: string | undefined): string {
  const detail = serverMessage(error);
  const { status } = error;
  if (status === 401) return 'Your session has ended. Please log in again.';
  if (status === 429) return 'Too many attempts. Please wait a moment before trying again.';
  if (status === 503) {
    return `Wharf is briefly unavailable${about(action)}: a service it depends on is not answering. Please try again in a moment.`;
  }
  if (status >= 500) {
    const reference = error.requestId ? ` (request id ${error.requestId})` : '';
    return `Wharf had an internal problem${about(action)}. Please try again later; if it persists, tell your administrator${reference}.`;
  }
  if (detail) return failedWith(action, detail);
  if (status === 403) return action ? `You are not allowed to ${action}.` : 'You do not have permission to do this.';
  if (status === 404)
    return action ? `Could not ${action}: it no longer exists.` : 'What you asked for no longer exists.';
  if (status === 409) return action ? `Could not ${action}: it already exists.` : 'It already exists.';
  if (status === 412) return action ? `Could not ${action}: a precondition is not met.` : 'A precondition is not met.';
  if (status === 400 || status === 422) {
    return action ? `Could not ${action}: the request is not valid.` : 'The request is not valid.';
  }
  return `Could not ${action ?? 'complete the request'} (HTTP ${status}).`;
}

/** fetch rejects with a TypeError when the server cannot be reached at all. */
function isNetworkFailure(error: unknown): boolean {
  return error instanceof TypeError && /fetch|network|load failed/i.test(error.message);
}
