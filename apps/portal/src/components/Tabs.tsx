import { NavLink } from 'react-router';

export interface TabLink {
  label: string;
  /** Where the tab leads; it shows as current while the address is at or under it. */
  to: string;
}

/** Tabs that are links (each tab is its own address), e.g. the sections of a project. */
export function Tabs({ tabs, label }: { tabs: TabLink[]; label: string }) {
  return (
    <nav className="tabs" aria-label={label}>
      <ul>
        {tabs.map((tab) => (
          <li key={tab.to}>
            <NavLink to={tab.to} className={({ isActive }) => (isActive ? 'tab tab-active' : 'tab')}>
              {tab.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
