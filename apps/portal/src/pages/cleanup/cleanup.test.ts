import { describe, expect, it } from 'vitest';
import { freedSpace, isDryRun, purgeFieldsOf, purgeParameters, scheduleObjectOf, utcText } from './cleanup.js';

describe('freedSpace', () => {
  it('adds the blobs, orphan files and uploads of the closing line of a collection', () => {
    const log =
      'deleted 3 blobs, 1.00 MB, in 0.2 s\n' +
      '2026-12-01T10:00:01Z gc finished, deleted 2 manifests, 3 blobs (1.00 MB), 1 orphan blob files (0.25 MB) ' +
      'and 2 abandoned uploads (0.75 MB)\n';
    expect(freedSpace(log)).toEqual({ bytes: 2 * 1024 * 1024, dryRun: false });
  });

  it('says nothing while the run has not stated it, or when it stopped', () => {
    expect(freedSpace('3 blobs and 1 manifests eligible for deletion\n')).toBeUndefined();
    expect(freedSpace('gc stopped: 1 manifests and 2 blobs deleted so far\n')).toBeUndefined();
    expect(freedSpace('')).toBeUndefined();
  });
});

describe('isDryRun', () => {
  it('reads dry_run from the parameters the run was given, and is false for anything else', () => {
    expect(isDryRun({ job_parameters: '{"dry_run":true,"workers":2}' })).toBe(true);
    expect(isDryRun({ job_parameters: '{"dry_run":false}' })).toBe(false);
    expect(isDryRun({ job_parameters: '{}' })).toBe(false);
    expect(isDryRun({ job_parameters: 'not json' })).toBe(false);
    expect(isDryRun({ job_parameters: 'null' })).toBe(false);
  });
});

describe('purge parameters', () => {
  it('keeps hours that are not whole days in hours, and sends event types in a stable order', () => {
    const fields = purgeFieldsOf({ audit_retention_hour: 30, include_event_types: 'delete_user, create_artifact' });
    expect(fields).toMatchObject({ retention: '30', unit: 'hours' });
    expect(purgeParameters(fields, false)).toEqual({
      audit_retention_hour: 30,
      include_event_types: 'create_artifact,delete_user',
      dry_run: false,
    });
  });
});

describe('schedules', () => {
  it('sends the presets with their crons and a custom cron tidied', () => {
    expect(scheduleObjectOf('weekly', '')).toEqual({ type: 'Weekly', cron: '0 0 0 * * 0' });
    expect(scheduleObjectOf('custom', ' 0 30  2 * * * ')).toEqual({ type: 'Custom', cron: '0 30 2 * * *' });
    expect(scheduleObjectOf('none', '0 0 0 * * *')).toEqual({ type: 'None' });
    expect(utcText('2026-12-08T01:02:03.000Z')).toBe('2026-12-08 01:02 UTC');
  });
});
