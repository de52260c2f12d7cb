import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route } from 'react-router';
import { createFetchDouble, errorReply } from '../../test/fetch-double.js';
import { DEVELOPER, renderWithApp } from '../../test/render.js';
import { LoginPage, safeNext } from './LoginPage.js';

function renderLogin(at = '/login') {
  const server = createFetchDouble();
  const rendered = renderWithApp(<LoginPage />, {
    at,
    path: '/login',
    user: null,
    server,
    routes: (
      <>
        <Route path="/projects" element={<p>Projects page</p>} />
        <Route path="/projects/:id/members" element={<p>Members page</p>} />
      </>
    ),
  });
  return { ...rendered, server };
}

async function fillAndSubmit(username: string, password: string) {
  if (username) await userEvent.type(screen.getByLabelText('Username'), username);
  if (password) await userEvent.type(screen.getByLabelText('Password'), password);
  await userEvent.click(screen.getByRole('button', { name: 'Log in' }));
}

describe('LoginPage', () => {
  it('logs in with the session endpoint and goes where the user was headed', async () => {
    const { server, client } = renderLogin('/login?next=%2Fprojects%2F3%2Fmembers');
    server
      .on('POST', '/c/login', { headers: { 'X-Harbor-CSRF-Token': 'token-1' } })
      .on('GET', '/api/v2.0/users/current', { body: DEVELOPER, headers: { 'X-Harbor-CSRF-Token': 'token-2' } });

    await fillAndSubmit('dev', 'Secret123');

    expect(await screen.findByText('Members page')).toBeInTheDocument();
    const login = server.requests.find((r) => r.path === '/c/login');
    expect(login?.body).toEqual({ principal: 'dev', password: 'Secret123' });
    expect(client.hasSession).toBe(true);
  });

  it('says the credentials are wrong on 401, in words', async () => {
    const { server } = renderLogin();
    server.on('POST', '/c/login', errorReply(401, 'UNAUTHORIZED', 'invalid user name or password'));

    await fillAndSubmit('dev', 'wrong');

    expect(await screen.findByRole('alert')).toHaveTextContent('The username or password is not correct.');
    expect(screen.queryByText('Projects page')).not.toBeInTheDocument();
  });

  it('asks to wait after too many attempts (429)', async () => {
    const { server } = renderLogin();
    server.on('POST', '/c/login', errorReply(429, 'TOO_MANY_REQUESTS', 'too many failed logins'));

    await fillAndSubmit('dev', 'wrong');

    expect(await screen.findByRole('alert')).toHaveTextContent(/Too many failed attempts.*wait/);
  });

  it('says when Wharf cannot be reached', async () => {
    const { server } = renderLogin();
    server.on('POST', '/c/login', () => {
      throw new TypeError('Failed to fetch');
    });

    await fillAndSubmit('dev', 'Secret123');

    expect(await screen.findByRole('alert')).toHaveTextContent('Wharf cannot be reached');
  });

  it('asks for both fields before sending anything', async () => {
    const { server } = renderLogin();

    await fillAndSubmit('dev', '');

    expect(screen.getByRole('alert')).toHaveTextContent('Enter your username and password.');
    expect(server.requests).toHaveLength(0);
  });

  it('goes to the projects when already signed in', async () => {
    renderWithApp(<LoginPage />, {
      at: '/login',
      routes: <Route path="/projects" element={<p>Projects page</p>} />,
    });
    expect(await screen.findByText('Projects page')).toBeInTheDocument();
  });
});

describe('safeNext', () => {
  it('only follows paths of the portal', () => {
    expect(safeNext('/projects/3/members?page=2')).toBe('/projects/3/members?page=2');
    expect(safeNext('//evil.example/x')).toBe('/projects');
    expect(safeNext('/\\evil.example')).toBe('/projects');
    expect(safeNext('https://evil.example')).toBe('/projects');
    expect(safeNext('/login')).toBe('/projects');
    expect(safeNext(null)).toBe('/projects');
  });
});
