export * from './types.js';
export * from './trivy/trivy-report.schema.js';
export * from './trivy/vulnerability-report.js';
export * from './trivy/trivy.scanner.js';
export * from './adapter-client.js';
