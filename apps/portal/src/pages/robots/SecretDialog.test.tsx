import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { SecretDialog } from './SecretDialog.js';

const NAME = 'robot$shop+ci';
const SECRET = 'Xy7secretValue0123456789abcdefAB';

function readBlob(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(typeof reader.result === 'string' ? reader.result : '');
    reader.onerror = () => reject(reader.error ?? new Error('read failed'));
    reader.readAsText(blob);
  });
}

describe('SecretDialog', () => {
  let writeText: ReturnType<typeof vi.fn>;

  beforeEach(() => {
    writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(window, 'isSecureContext', { value: true, configurable: true });
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
  });

  afterEach(() => {
    Reflect.deleteProperty(navigator, 'clipboard');
    Reflect.deleteProperty(window, 'isSecureContext');
  });

  it('shows the name and secret once, with a warning that it will not be shown again', () => {
    render(<SecretDialog name={NAME} secret={SECRET} title="Robot account created" onClose={() => {}} />);

    const dialog = screen.getByRole('dialog', { name: 'Robot account created' });
    expect(dialog).toBeInTheDocument();
    expect(screen.getByLabelText('Secret')).toHaveValue(SECRET);
    expect(screen.getByLabelText('Name')).toHaveValue(NAME);
    expect(screen.getByRole('alert')).toHaveTextContent('It will not be shown again');
  });

  it('copies the secret to the clipboard', async () => {
    render(<SecretDialog name={NAME} secret={SECRET} title="New secret" onClose={() => {}} />);

    // The second Copy button belongs to the secret (the first copies the name).
    const [copyName, copySecret] = screen.getAllByRole('button', { name: 'Copy' });
    await userEvent.click(copySecret!);

    expect(writeText).toHaveBeenCalledWith(SECRET);
    expect(await screen.findByRole('button', { name: 'Copied' })).toBe(copySecret);
    await userEvent.click(copyName!);
    expect(writeText).toHaveBeenLastCalledWith(NAME);
  });

  it('downloads a JSON file named after the robot holding its name and secret', async () => {
    const blobs: Blob[] = [];
    const createObjectURL = vi.fn((blob: Blob) => {
      blobs.push(blob);
      return 'blob:wharf/secret';
    });
    const revokeObjectURL = vi.fn();
    Object.defineProperty(URL, 'createObjectURL', { value: createObjectURL, configurable: true });
    Object.defineProperty(URL, 'revokeObjectURL', { value: revokeObjectURL, configurable: true });
    const clicked: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this);
    });

    render(<SecretDialog name={NAME} secret={SECRET} title="New secret" onClose={() => {}} />);
    await userEvent.click(screen.getByRole('button', { name: 'Download' }));

    expect(clicked).toHaveLength(1);
    expect(clicked[0]!.download).toBe('robot$shop+ci.json');
    expect(clicked[0]!.getAttribute('href')).toBe('blob:wharf/secret');
    expect(blobs).toHaveLength(1);
    expect(blobs[0]!.type).toBe('application/json');
    expect(JSON.parse(await readBlob(blobs[0]!))).toEqual({ name: NAME, secret: SECRET });
    // The link is gone from the page and the blob's address is released afterwards.
    expect(document.querySelector('a[download]')).toBeNull();
    await vi.waitFor(() => expect(revokeObjectURL).toHaveBeenCalledWith('blob:wharf/secret'));
  });

  it('closes with "Close"', async () => {
    const onClose = vi.fn();
    render(<SecretDialog name={NAME} secret={SECRET} title="New secret" onClose={onClose} />);
    await userEvent.click(screen.getByRole('button', { name: 'Close' }));
    expect(onClose).toHaveBeenCalled();
  });

  it('stays open on Escape and on a click outside, so the only copy of the secret is not lost by accident', async () => {
    const onClose = vi.fn();
    render(<SecretDialog name={NAME} secret={SECRET} title="New secret" onClose={onClose} />);
    await userEvent.keyboard('{Escape}');
    const dialog = screen.getByRole('dialog', { name: 'New secret' });
    await userEvent.pointer({ keys: '[MouseLeft]', target: dialog.parentElement! });
    expect(onClose).not.toHaveBeenCalled();
    expect(screen.getByLabelText('Secret')).toHaveValue(SECRET);
  });
});
