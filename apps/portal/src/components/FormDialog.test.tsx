import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { FormDialog } from './FormDialog.js';

describe('FormDialog', () => {
  it('submits through its button and cancels through Cancel', async () => {
    const onSubmit = vi.fn((event: { preventDefault: () => void }) => event.preventDefault());
    const onClose = vi.fn();
    render(
      <FormDialog title="Rename" submitLabel="OK" busy={false} error={null} onSubmit={onSubmit} onClose={onClose}>
        <label htmlFor="name">Name</label>
        <input id="name" required />
      </FormDialog>,
    );
    const dialog = screen.getByRole('dialog', { name: 'Rename' });
    expect(dialog.querySelector('form')).toHaveAttribute('novalidate');
    await userEvent.click(screen.getByRole('button', { name: 'OK' }));
    expect(onSubmit).toHaveBeenCalledTimes(1);
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('shows its error, and while busy disables both buttons and does not close on Escape', async () => {
    const onClose = vi.fn();
    render(
      <FormDialog
        title="Rename"
        submitLabel="OK"
        busyLabel="Renaming…"
        busy
        error="The name is taken."
        onSubmit={vi.fn()}
        onClose={onClose}
      >
        <p>Fields</p>
      </FormDialog>,
    );
    expect(screen.getByRole('alert')).toHaveTextContent('The name is taken.');
    expect(screen.getByRole('button', { name: 'Renaming…' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Cancel' })).toBeDisabled();
    await userEvent.keyboard('{Escape}');
    expect(onClose).not.toHaveBeenCalled();
  });

  it('keeps the submit button disabled when asked, labels it "<label>…" while busy unless told, and can leave validation on', () => {
    const { rerender } = render(
      <FormDialog
        title="Role"
        submitLabel="Save"
        busy={false}
        submitDisabled
        noValidate={false}
        error={null}
        onSubmit={vi.fn()}
        onClose={vi.fn()}
      >
        <p>Fields</p>
      </FormDialog>,
    );
    expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled();
    expect(screen.getByRole('dialog', { name: 'Role' }).querySelector('form')).not.toHaveAttribute('novalidate');
    rerender(
      <FormDialog title="Role" submitLabel="Save" busy error={null} onSubmit={vi.fn()} onClose={vi.fn()}>
        <p>Fields</p>
      </FormDialog>,
    );
    expect(screen.getByRole('button', { name: 'Save…' })).toBeDisabled();
  });
});
