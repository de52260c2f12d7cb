import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { useCurrentUser, useLogout } from '../api/session.js';
import { useToast } from './Toast.js';
import { errorText } from '../lib/errors.js';

const ADMIN_LINKS = [
  { to: '/admin/users', label: 'Users' },
  { to: '/admin/robots', label: 'Robot accounts' },
  { to: '/admin/quotas', label: 'Quotas' },
  { to: '/admin/audit-logs', label: 'Audit log' },
  { to: '/admin/interrogation-services/scanners', label: 'Interrogation Services' },
  { to: '/admin/cleanup', label: 'Clean Up' },
  { to: '/admin/job-service-dashboard', label: 'Job Service Dashboard' },
];

function navClass({ isActive }: { isActive: boolean }) {
  return isActive ? 'nav-link nav-link-active' : 'nav-link';
}

function UserMenu({ username }: { username: string }) {
  const [open, setOpen] = useState(false);
  const logout = useLogout();
  const navigate = useNavigate();
  const toast = useToast();
  const menu = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return undefined;
    function onPointer(event: MouseEvent) {
      if (menu.current && !menu.current.contains(event.target as Node)) setOpen(false);
    }
    function onKey(event: KeyboardEvent) {
      if (event.key === 'Escape') setOpen(false);
    }
    document.addEventListener('mousedown', onPointer);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onPointer);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  return (
    <div className="user-menu" ref={menu}>
      <button
        type="button"
        className="user-menu-button"
        aria-haspopup="true"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
      >
        <span className="visually-hidden">Signed in as </span>
        {username}
      </button>
      {open ? (
        <ul className="user-menu-list">
          <li>
            <NavLink to="/account" className="user-menu-item" onClick={() => setOpen(false)}>
              Account
            </NavLink>
          </li>
          <li>
            <button
              type="button"
              className="user-menu-item"
              disabled={logout.isPending}
              onClick={() =>
                logout.mutate(undefined, {
                  onSuccess: () => void navigate('/login', { replace: true }),
                  onError: (error) => {
                    toast.error(errorText(error, 'log out'));
                    void navigate('/login', { replace: true });
                  },
                })
              }
            >
              Log out
            </button>
          </li>
        </ul>
      ) : null}
    </div>
  );
}

/** The frame of every page after login: header with the user menu, side navigation, and the page. */
export function Layout() {
  const user = useCurrentUser().data;
  const location = useLocation();
  // A narrow window shows the navigation on demand, on the page where it was opened: following a link closes it.
  const [navOpenAt, setNavOpenAt] = useState<string | null>(null);
  const navOpen = navOpenAt === location.pathname;

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="nav-toggle"
          aria-expanded={navOpen}
          aria-controls="side-nav"
          onClick={() => setNavOpenAt(navOpen ? null : location.pathname)}
        >
          Menu
        </button>
        <NavLink to="/projects" className="brand">
          Wharf
        </NavLink>
        <div className="topbar-spacer" />
        {user ? <UserMenu username={user.username} /> : null}
      </header>
      <div className="shell-body">
        <nav
          id="side-nav"
          className={navOpen ? 'sidenav sidenav-open' : 'sidenav'}
          aria-label="Main"
          onClick={(event) => {
            if (event.target instanceof Element && event.target.closest('a')) setNavOpenAt(null);
          }}
        >
          <ul>
            <li>
              <NavLink to="/projects" className={navClass}>
                Projects
              </NavLink>
            </li>
          </ul>
          {user?.sysadmin_flag ? (
            <div className="nav-group">
              <h2 className="nav-group-title" id="nav-admin">
                Administration
              </h2>
              <ul aria-labelledby="nav-admin">
                {ADMIN_LINKS.map((link) => (
                  <li key={link.to}>
                    <NavLink to={link.to} className={navClass}>
                      {link.label}
                    </NavLink>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </nav>
        <main id="main" className="content" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
