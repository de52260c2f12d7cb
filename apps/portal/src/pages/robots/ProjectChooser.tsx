import { useId, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { useSettled } from '../../components/common/use-settled.js';
import { errorText } from '../../lib/errors.js';
import styles from './robots.module.css';

const RESULTS = 10;

export interface ProjectChooserProps {
  /** Names of the chosen projects. */
  chosen: readonly string[];
  onChange: (projects: string[]) => void;
}

/** Picks projects by name: a search over the projects the user sees, and the chosen ones with "Remove". */
export function ProjectChooser({ chosen, onChange }: ProjectChooserProps) {
  const api = useApi();
  const searchId = useId();
  const [text, setText] = useState('');
  const search = useSettled(text.trim());
  const results = useQuery({
    queryKey: ['projects', 'chooser', search],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/projects', {
          params: { query: { page: 1, page_size: RESULTS, ...(search ? { name: search } : {}) } },
        }),
      ),
  });

  return (
    <div className="field">
      <span className="field-label">Projects covered</span>
      {chosen.length === 0 ? (
        <p className="hint">No project chosen yet.</p>
      ) : (
        <ul className={styles.chosen} aria-label="Projects covered">
          {chosen.map((name) => (
            <li key={name} className="chip">
              {name}
              <button
                type="button"
                className="button-link"
                aria-label={`Remove project ${name}`}
                onClick={() => onChange(chosen.filter((n) => n !== name))}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <label htmlFor={searchId}>Find a project</label>
      <input
        id={searchId}
        type="search"
        value={text}
        placeholder="Project name"
        onChange={(e) => setText(e.target.value)}
      />
      {results.isPending ? (
        <p className="hint" role="status">
          Searching…
        </p>
      ) : results.isError ? (
        <p className="field-error" role="alert">
          {errorText(results.error, 'search the projects')}
        </p>
      ) : results.data.length === 0 ? (
        <p className="hint">No project matches.</p>
      ) : (
        <ul className={styles.projectResults} aria-label="Matching projects">
          {results.data.map((project) => {
            const taken = chosen.includes(project.name);
            return (
              <li key={project.project_id}>
                <span>{project.name}</span>
                <button
                  type="button"
                  className="button button-small"
                  aria-label={`Add project ${project.name}`}
                  disabled={taken}
                  onClick={() => onChange([...chosen, project.name])}
                >
                  {taken ? 'Added' : 'Add'}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
