import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PagedTable } from './PagedTable.js';

describe('PagedTable', () => {
  it('shows its caption, headers and rows, and pages through Pagination', async () => {
    const onPageChange = vi.fn();
    render(
      <PagedTable
        caption="Things"
        headers={<th scope="col">Name</th>}
        columns={1}
        itemCount={1}
        emptyText="No things on this page."
        label="things"
        page={1}
        pageSize={10}
        total={12}
        onPageChange={onPageChange}
      >
        <tr>
          <td>first</td>
        </tr>
      </PagedTable>,
    );
    const table = screen.getByRole('table', { name: 'Things' });
    expect(within(table).getByRole('columnheader', { name: 'Name' })).toBeInTheDocument();
    expect(within(table).getByRole('cell', { name: 'first' })).toBeInTheDocument();
    expect(screen.queryByText('No things on this page.')).not.toBeInTheDocument();
    const nav = screen.getByRole('navigation', { name: 'Pages of things' });
    await userEvent.click(within(nav).getByRole('button', { name: 'Next' }));
    expect(onPageChange).toHaveBeenLastCalledWith(2);
  });

  it('says so across all columns when the page is empty', () => {
    render(
      <PagedTable
        caption="Things"
        headers={
          <>
            <th scope="col">Name</th>
            <th scope="col">Size</th>
          </>
        }
        columns={2}
        itemCount={0}
        emptyText="No things on this page."
        page={3}
        pageSize={10}
        total={12}
        onPageChange={vi.fn()}
      >
        {[]}
      </PagedTable>,
    );
    const cell = screen.getByRole('cell', { name: 'No things on this page.' });
    expect(cell).toHaveAttribute('colspan', '2');
  });
});
