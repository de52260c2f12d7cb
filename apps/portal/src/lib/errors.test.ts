import { describe, expect, it } from 'vitest';
import { WharfApiError } from '@wharf/api-client';
import { errorText } from './errors.js';

function apiError(status: number, message = '', requestId?: string) {
  return new WharfApiError(status, message ? [{ code: 'X', message }] : [], requestId);
}

describe('errorText', () => {
  it('says the session ended on 401, without the raw code', () => {
    const text = errorText(apiError(401, 'unauthorized: authentication required'), 'load the projects');
    expect(text).toBe('Your session has ended. Please log in again.');
    expect(text).not.toMatch(/401|UNAUTHORIZED/);
  });

  it('names the action the user lacks permission for on 403', () => {
    expect(errorText(apiError(403), 'delete the project')).toBe('You are not allowed to delete the project.');
    expect(errorText(apiError(403))).toBe('You do not have permission to do this.');
  });

  it("says the thing no longer exists on 404, in the server's words when it has some", () => {
    expect(errorText(apiError(404, 'project 12 not found'), 'open the project')).toBe(
      'Could not open the project: project 12 not found.',
    );
    expect(errorText(apiError(404), 'open the project')).toBe('Could not open the project: it no longer exists.');
  });

  it("says it already exists on 409 once, not in the status's words and again in the server's", () => {
    expect(errorText(apiError(409, 'project web already exists'), 'create the project')).toBe(
      'Could not create the project: project web already exists.',
    );
    expect(errorText(apiError(409), 'create the project')).toBe('Could not create the project: it already exists.');
    expect(errorText(apiError(409, 'project web already exists.'))).toBe('Project web already exists.');
  });

  it('gives the server its word on 412', () => {
    expect(errorText(apiError(412, 'the project contains repositories'), 'delete the project')).toBe(
      'Could not delete the project: the project contains repositories.',
    );
    expect(errorText(apiError(412))).toBe('A precondition is not met.');
  });

  it("says why a permission was refused in the server's words alone", () => {
    expect(errorText(apiError(403, 'you may not delete robot accounts of project web'), 'delete robot$web+ci')).toBe(
      'Could not delete robot$web+ci: you may not delete robot accounts of project web.',
    );
  });

  it('asks to wait on 429', () => {
    expect(errorText(apiError(429, 'too many failed logins'), 'log in')).toBe(
      'Too many attempts. Please wait a moment before trying again.',
    );
  });

  it('reports an internal problem on 5xx with the request id, never the server internals', () => {
    const text = errorText(apiError(500, 'relation "project" does not exist', 'req-42'), 'load the projects');
    expect(text).toContain('Wharf had an internal problem while trying to load the projects');
    expect(text).toContain('request id req-42');
    expect(text).not.toContain('relation');
    expect(errorText(apiError(502))).toContain('Wharf had an internal problem');
  });

  it('says a 503 is a passing outage of a service Wharf depends on, in its own words only', () => {
    const text = errorText(apiError(503, 'the database is not answering; try again shortly'), 'load the projects');
    expect(text).toBe(
      'Wharf is briefly unavailable while trying to load the projects: a service it depends on is not answering. ' +
        'Please try again in a moment.',
    );
  });

  it('explains a bad request with the server message', () => {
    expect(errorText(apiError(400, 'name must be lowercase'), 'create the project')).toBe(
      'Could not create the project: name must be lowercase.',
    );
  });

  it('says Wharf cannot be reached when fetch fails', () => {
    expect(errorText(new TypeError('Failed to fetch'))).toBe(
      'Wharf cannot be reached. Check your network connection and try again.',
    );
    expect(errorText(new TypeError('NetworkError when attempting to fetch resource.'))).toMatch(/cannot be reached/);
  });

  it('falls back to a plain sentence for other failures', () => {
    expect(errorText(new Error('boom'), 'save')).toBe('Something went wrong while trying to save: boom');
    expect(errorText('weird')).toBe('Something went wrong.');
  });
});

describe('errorText with generic server messages', () => {
  it('leaves out a message that only repeats the status', () => {
    expect(errorText(apiError(403, 'Forbidden'), 'open the project')).toBe('You are not allowed to open the project.');
    expect(errorText(apiError(404, 'not found.'))).toBe('What you asked for no longer exists.');
  });
});
