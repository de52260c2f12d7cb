import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, useLocation } from 'react-router';
import { pageCount, pageRange, Pagination } from './Pagination.js';
import { usePageParams } from '../api/paging.js';

describe('pageRange', () => {
  it('shows the first and last item of the page and the total', () => {
    expect(pageRange(1, 25, 120)).toBe('1–25 of 120');
    expect(pageRange(2, 25, 120)).toBe('26–50 of 120');
    expect(pageRange(5, 25, 120)).toBe('101–120 of 120');
    expect(pageRange(1, 25, 0)).toBe('0 of 0');
  });

  it('counts at least one page', () => {
    expect(pageCount(25, 0)).toBe(1);
    expect(pageCount(25, 26)).toBe(2);
  });
});

describe('Pagination', () => {
  it('moves between pages and disables what leads nowhere', async () => {
    const onPageChange = vi.fn();
    const { rerender } = render(<Pagination page={1} pageSize={10} total={35} onPageChange={onPageChange} />);
    expect(screen.getByText('1–10 of 35')).toBeInTheDocument();
    expect(screen.getByText('Page 1 of 4')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Previous' })).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Next' }));
    expect(onPageChange).toHaveBeenLastCalledWith(2);
    await userEvent.click(screen.getByRole('button', { name: 'Last' }));
    expect(onPageChange).toHaveBeenLastCalledWith(4);

    rerender(<Pagination page={4} pageSize={10} total={35} onPageChange={onPageChange} />);
    expect(screen.getByText('31–35 of 35')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Previous' }));
    expect(onPageChange).toHaveBeenLastCalledWith(3);
  });

  it('changes the page size through a labelled select', async () => {
    const onPageSizeChange = vi.fn();
    render(<Pagination page={1} pageSize={25} total={80} onPageChange={vi.fn()} onPageSizeChange={onPageSizeChange} />);
    await userEvent.selectOptions(screen.getByLabelText('Page size'), '50');
    expect(onPageSizeChange).toHaveBeenCalledWith(50);
  });
});

function PagedList() {
  const { page, pageSize, query, setPage, setPageSize, setQuery } = usePageParams(10);
  const location = useLocation();
  return (
    <div>
      <p>
        page {page} size {pageSize} query {query || '-'}
      </p>
      <p data-testid="search">{location.search}</p>
      <button onClick={() => setPage(3)}>to 3</button>
      <button onClick={() => setPageSize(50)}>size 50</button>
      <button onClick={() => setQuery(' web ')}>search</button>
    </div>
  );
}

describe('usePageParams', () => {
  it('keeps page, size and search in the address and starts over on a new search or size', async () => {
    render(
      <MemoryRouter initialEntries={['/x?page=2']}>
        <PagedList />
      </MemoryRouter>,
    );
    expect(screen.getByText('page 2 size 10 query -')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'to 3' }));
    expect(screen.getByTestId('search')).toHaveTextContent('?page=3');
    await userEvent.click(screen.getByRole('button', { name: 'size 50' }));
    expect(screen.getByText('page 1 size 50 query -')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'to 3' }));
    await userEvent.click(screen.getByRole('button', { name: 'search' }));
    expect(screen.getByText('page 1 size 50 query web')).toBeInTheDocument();
  });

  it('ignores values in the address that are not pages', () => {
    render(
      <MemoryRouter initialEntries={['/x?page=-4&page_size=100000']}>
        <PagedList />
      </MemoryRouter>,
    );
    expect(screen.getByText('page 1 size 10 query -')).toBeInTheDocument();
  });
});
