/** The `service` of registry tokens (their audience), as Harbor names its registry. */
export const REGISTRY_SERVICE = 'harbor-registry';

/** The `iss` of registry tokens, as Harbor's token service signs them. */
export const TOKEN_ISSUER = 'harbor-token-issuer';

/** The token service's path, the realm of the registry's challenges. */
export const TOKEN_SERVICE_PATH = '/service/token';
