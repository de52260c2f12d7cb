export { type Heartbeat, HEARTBEAT_KEY_PREFIX, heartbeatKey, parseHeartbeat } from '@wharf/jobs';
export { type JobService, type JobServiceOptions, createJobServiceLogger, startJobService } from './jobservice.js';
export { localHeartbeatHost, probeJobService, probeRedis } from './probe.js';
