export * from './rbac.js';
export * from './robot-permissions.js';
export * from './password.js';
export * from './robot-secret.js';
export * from './scope.js';
export * from './registry-token.js';
export { isErrno, publishSecretFile } from './secret-file.js';
