// Integration tests start real servers and talk to real PostgreSQL, Redis and storage. Jest's default of 5 s per
// test or hook is too short for that on a busy 2-core machine; a test file that needs longer sets its own.
import { jest } from '@jest/globals';

jest.setTimeout(30_000);
