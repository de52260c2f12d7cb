import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CopyButton } from './CopyButton.js';

describe('CopyButton', () => {
  it('copies and says Copied', async () => {
    const user = userEvent.setup();
    render(<CopyButton text="docker pull reg/x:1" ariaLabel="Copy pull command for tag 1" />);
    await user.click(screen.getByRole('button', { name: 'Copy pull command for tag 1' }));
    expect(await navigator.clipboard.readText()).toBe('docker pull reg/x:1');
    expect(screen.getByRole('button')).toHaveTextContent('Copied');
  });

  it('shows the text selected for copying by hand when the browser refuses', async () => {
    const user = userEvent.setup();
    vi.spyOn(navigator.clipboard, 'writeText').mockRejectedValue(new DOMException('denied', 'NotAllowedError'));
    render(<CopyButton text="secret-value" />);
    await user.click(screen.getByRole('button', { name: 'Copy' }));
    const field = await screen.findByLabelText('Text to copy');
    expect(field).toHaveValue('secret-value');
    expect(screen.getByText(/Press Ctrl\+C/)).toBeInTheDocument();
    expect(screen.getByRole('button')).toHaveTextContent('Copy');
  });
});
