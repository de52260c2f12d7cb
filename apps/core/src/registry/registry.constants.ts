/** The `service` of registry tokens (their audience), as Harbor names its registry. */
export const REGISTRY_SERVICE = 'harbor-registry';

/** The `iss` of registry tokens, as Harbor's token service signs them. */
export const TOKEN_ISSUER = 'harbor-token-issuer';

/** The token service's path, the realm of the registry's challenges. */
export const TOKEN_SERVICE_PATH = '/service/token';

/**
 * The scanner identity's name, as its tokens' `sub` and the actor of its requests. `#` is in no user's name (it is
 * refused there) nor in a robot's, so no account acts under it; its pulls are not recorded as pulls of the artifact.
 */
export const SCANNER_ACTOR = 'wharf#scanner';
