import { useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { useProject } from '../../api/project.js';
import { Badge } from '../../components/Badge.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { QueryState } from '../../components/QueryState.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { ImmutableRuleDialog } from './ImmutableRuleDialog.js';
import { MAX_RULES, immutableSentence, type ImmutableRule } from './rules.js';

type Editing = { kind: 'add' } | { kind: 'edit'; rule: ImmutableRule } | { kind: 'delete'; rule: ImmutableRule };

/**
 * A project's tag immutability rules: a tag they select can be neither pushed over nor deleted. Listed for those who
 * may list them; added, changed, switched on and off and deleted by those the API lets (Project Admin, Maintainer).
 */
export function ImmutabilitySection({ may }: { may: { create: boolean; update: boolean; delete: boolean } }) {
  const api = useApi();
  const project = useProject();
  const queryClient = useQueryClient();
  const toast = useToast();
  const id = String(project.project_id);
  const queryKey = ['projects', id, 'immutabletagrules'];
  const [editing, setEditing] = useState<Editing | null>(null);
  const [toggling, setToggling] = useState<number | null>(null);

  const rules = useQuery({
    queryKey,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/projects/{project_name_or_id}/immutabletagrules', {
          params: { path: { project_name_or_id: id }, query: { page: 1, page_size: 100 } },
        }),
      ),
  });

  const refresh = () => queryClient.invalidateQueries({ queryKey });
  const path = (ruleId: number) => ({ project_name_or_id: id, immutable_rule_id: String(ruleId) });

  async function toggle(rule: ImmutableRule) {
    if (rule.id === undefined) return;
    setToggling(rule.id);
    try {
      unwrap(
        await api.PUT('/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}', {
          params: { path: path(rule.id) },
          body: { ...rule, disabled: !rule.disabled },
        }),
      );
      toast.success(`The rule is ${rule.disabled ? 'enabled' : 'disabled'}.`);
      await refresh();
    } catch (error) {
      toast.error(errorText(error, `${rule.disabled ? 'enable' : 'disable'} the immutability rule`));
    } finally {
      setToggling(null);
    }
  }

  const count = rules.data?.length ?? 0;
  return (
    <div className="section">
      <div className="toolbar">
        <h3 id="immutability-title">Tag immutability</h3>
        {may.create ? (
          <button
            type="button"
            className="button button-primary"
            disabled={count >= MAX_RULES || !rules.isSuccess}
            onClick={() => setEditing({ kind: 'add' })}
          >
            Add immutability rule
          </button>
        ) : null}
      </div>
      <p className="hint">
        Tags an enabled rule selects can be neither pushed over nor deleted, until the rule is disabled or deleted.
        {may.create && count >= MAX_RULES ? ` A project holds ${MAX_RULES} rules at most.` : ''}
      </p>
      <QueryState
        query={rules}
        action="load the immutability rules"
        isEmpty={(data) => data.length === 0}
        empty={<p>No immutability rules: every tag can be pushed over and deleted.</p>}
      >
        {(data) => (
          <div className="table-wrap">
            <table className="table" aria-labelledby="immutability-title">
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Status</th>
                  {may.update || may.delete ? (
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {data.map((rule) => {
                  const sentence = immutableSentence(rule);
                  return (
                    <tr key={rule.id}>
                      <td>{sentence}</td>
                      <td className="nowrap">
                        {rule.disabled ? <Badge>Disabled</Badge> : <Badge tone="success">Enabled</Badge>}
                      </td>
                      {may.update || may.delete ? (
                        <td className="actions">
                          {may.update ? (
                            <>
                              <button
                                type="button"
                                className="button button-small"
                                aria-label={`Edit rule: ${sentence}`}
                                onClick={() => setEditing({ kind: 'edit', rule })}
                              >
                                Edit
                              </button>
                              <button
                                type="button"
                                className="button button-small"
                                aria-label={`${rule.disabled ? 'Enable' : 'Disable'} rule: ${sentence}`}
                                disabled={toggling === rule.id}
                                onClick={() => void toggle(rule)}
                              >
                                {rule.disabled ? 'Enable' : 'Disable'}
                              </button>
                            </>
                          ) : null}
                          {may.delete ? (
                            <button
                              type="button"
                              className="button button-small"
                              aria-label={`Delete rule: ${sentence}`}
                              onClick={() => setEditing({ kind: 'delete', rule })}
                            >
                              Delete
                            </button>
                          ) : null}
                        </td>
                      ) : null}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
      {editing?.kind === 'add' ? (
        <ImmutableRuleDialog
          onClose={() => setEditing(null)}
          onSave={async (body) => {
            unwrap(
              await api.POST('/api/v2.0/projects/{project_name_or_id}/immutabletagrules', {
                params: { path: { project_name_or_id: id } },
                body,
              }),
            );
            toast.success('The immutability rule was added.');
            await refresh();
          }}
        />
      ) : null}
      {editing?.kind === 'edit' && editing.rule.id !== undefined ? (
        <ImmutableRuleDialog
          rule={editing.rule}
          onClose={() => setEditing(null)}
          onSave={async (body) => {
            unwrap(
              await api.PUT('/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}', {
                params: { path: path(editing.rule.id!) },
                body: { ...body, id: editing.rule.id, disabled: editing.rule.disabled },
              }),
            );
            toast.success('The immutability rule was saved.');
            await refresh();
          }}
        />
      ) : null}
      {editing?.kind === 'delete' && editing.rule.id !== undefined ? (
        <ConfirmDialog
          title="Delete immutability rule"
          danger
          confirmLabel="Delete"
          action="delete the immutability rule"
          message={<p>Delete the rule “{immutableSentence(editing.rule)}”? The tags it selects can change again.</p>}
          onConfirm={async () => {
            unwrap(
              await api.DELETE('/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}', {
                params: { path: path(editing.rule.id!) },
              }),
            );
            toast.success('The immutability rule was deleted.');
            await refresh();
          }}
          onClose={() => setEditing(null)}
        />
      ) : null}
    </div>
  );
}
