import { type IncomingMessage, type ServerResponse } from 'node:http';
import { originForm } from './framework-errors.js';

/** The path and query of a request target: origin-form as is, absolute-form reduced to them, anything else `/`. */
function pathAndQuery(target: string | undefined): string {
  const path = originForm(target ?? '/');
  return path.startsWith('/') ? path : '/';
}

/**
 * The plain HTTP listener when https is configured: every request is sent to the same path and query on `baseUrl`,
 * the configured HTTPS address (never one taken from the request's Host header, so the redirect cannot point
 * elsewhere). 308 for every method: a client repeats the request with the same method and body, and GET and HEAD need
 * no other status, since every client Wharf serves (docker, podman, skopeo, helm, browsers, curl) follows 308.
 */
export function redirectToHttps(baseUrl: string): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const location = `${baseUrl}${pathAndQuery(request.url)}`;
    try {
      response.setHeader('Location', location);
    } catch {
      // A target with bytes no header may carry.
      response.writeHead(400, { 'Content-Length': '0' }).end();
      return;
    }
    response.writeHead(308, { 'Content-Length': '0' }).end();
  };
}
