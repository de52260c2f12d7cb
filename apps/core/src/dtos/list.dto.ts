import { z } from 'zod';

/**
 * `page` and `page_size` of every list, as they arrive: text. One parser reads them for all lists (parsePagination
 * of @wharf/db), so each list accepts and refuses the same spellings: decimal digits within range, nothing else.
 * The document calls them integers, as Harbor's does, which is what clients send.
 */
export const PageQuery = {
  page: z.string().meta({ type: 'integer', minimum: 1, description: 'The page to answer, from 1' }).optional(),
  page_size: z
    .string()
    .meta({ type: 'integer', minimum: 1, maximum: 100, description: 'Items per page, 10 unless given' })
    .optional(),
};
