/** Injection tokens of values the server is built with. */
export const CORE_CONFIG = Symbol('wharf.coreConfig');
export const REDIS = Symbol('wharf.redis');
/** Prefix of every Redis key the control plane writes (an injected string; tests give each server its own). */
export const REDIS_PREFIX = Symbol('wharf.redisPrefix');
export const DEFAULT_REDIS_PREFIX = 'wharf:core:';
/** Harbor's prefix of robot account names, as `robot$ci` or `robot$library+ci`. */
export const ROBOT_NAME_PREFIX = 'robot$';
export const API_PREFIX = '/api/v2.0';
export const CORE_SECRETS = Symbol('wharf.coreSecrets');
/** The registry's storage driver, shared by the registry engine and the services that read blobs. */
export const STORAGE = Symbol('wharf.storage');
/** The certificate the HTTPS listener presents (a ServedCertificate), or null when https is not configured. */
export const SERVED_CERTIFICATE = Symbol('wharf.servedCertificate');
