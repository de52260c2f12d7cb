import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createFetchDouble, errorReply } from '../../test/fetch-double.js';
import { DEVELOPER, renderWithApp } from '../../test/render.js';
import { AccountPage } from './AccountPage.js';

function renderAccount() {
  const server = createFetchDouble().on('GET', '/api/v2.0/users/current', { body: DEVELOPER });
  return renderWithApp(<AccountPage />, { at: '/account', user: DEVELOPER, server });
}

function passwordForm() {
  return screen.getByRole('form', { name: 'Change password' });
}

describe('AccountPage', () => {
  it('saves the profile with PUT /users/{id}', async () => {
    const { server } = renderAccount();
    server.on('PUT', '/api/v2.0/users/7', { status: 200 });
    const profile = screen.getByRole('form', { name: 'Profile' });
    expect(within(profile).getByLabelText('Username')).toHaveValue('dev');

    await userEvent.clear(within(profile).getByLabelText('Full name'));
    await userEvent.type(within(profile).getByLabelText('Full name'), 'Dev Two');
    await userEvent.click(within(profile).getByRole('button', { name: 'Save profile' }));

    expect(await screen.findByText('Your profile was saved.')).toBeInTheDocument();
    const put = server.requests.find((r) => r.method === 'PUT');
    expect(put?.body).toEqual({ email: 'dev@example.com', realname: 'Dev Two', comment: '' });
  });

  it('checks the password policy and the confirmation before sending', async () => {
    const { server } = renderAccount();
    const form = passwordForm();
    expect(within(form).getByText(/8 to 128 characters/)).toBeInTheDocument();

    await userEvent.type(within(form).getByLabelText('Current password'), 'OldPassw0rd');
    await userEvent.type(within(form).getByLabelText('New password'), 'alllowercase1');
    await userEvent.type(within(form).getByLabelText('Confirm new password'), 'different');
    await userEvent.click(within(form).getByRole('button', { name: 'Change password' }));

    expect(within(form).getByText('The password must contain at least one upper-case letter.')).toBeInTheDocument();
    expect(within(form).getByText('The two new passwords do not match.')).toBeInTheDocument();
    expect(server.requests.some((r) => r.method === 'PUT')).toBe(false);
  });

  it('changes the password, and says so in words when the current one is wrong', async () => {
    const { server } = renderAccount();
    server.on('PUT', '/api/v2.0/users/7/password', errorReply(403, 'FORBIDDEN', 'the current password is incorrect'));
    const form = passwordForm();
    await userEvent.type(within(form).getByLabelText('Current password'), 'Wrong1234');
    await userEvent.type(within(form).getByLabelText('New password'), 'NewPassw0rd');
    await userEvent.type(within(form).getByLabelText('Confirm new password'), 'NewPassw0rd');
    await userEvent.click(within(form).getByRole('button', { name: 'Change password' }));
    expect(await within(form).findByRole('alert')).toHaveTextContent('The current password is not correct.');

    server.on('PUT', '/api/v2.0/users/7/password', { status: 200 });
    await userEvent.click(within(form).getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('Your password was changed.')).toBeInTheDocument();
    const sent = server.requests.filter((r) => r.method === 'PUT').at(-1);
    expect(sent?.body).toEqual({ old_password: 'Wrong1234', new_password: 'NewPassw0rd' });
    expect(within(form).getByLabelText('New password')).toHaveValue('');
  });
});
