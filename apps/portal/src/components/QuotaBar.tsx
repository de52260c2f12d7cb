import { formatBytes } from '../lib/format.js';

export interface QuotaBarProps {
  /** Bytes used. */
  used: number;
  /** The limit in bytes; -1 (or any negative) means no limit. */
  hard: number;
  /** Accessible name: "Storage of project web". */
  label?: string;
}

/** How much of a storage limit is used, as a bar with the numbers in words. */
export function QuotaBar({ used, hard, label = 'Storage used' }: QuotaBarProps) {
  const unlimited = hard < 0;
  const ratio = unlimited || hard === 0 ? (unlimited ? 0 : 1) : Math.min(used / hard, 1);
  const percent = Math.round(ratio * 100);
  const level = percent >= 90 ? 'quota-high' : percent >= 70 ? 'quota-medium' : 'quota-low';
  const text = unlimited
    ? `${formatBytes(used)} used, no limit`
    : `${formatBytes(used)} of ${formatBytes(hard)} used (${percent}%)`;
  return (
    <div className="quota">
      <div
        className={`quota-bar ${level}`}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={text}
      >
        <div className="quota-fill" style={{ width: unlimited ? '0%' : `${percent}%` }} />
      </div>
      <div className="quota-text">{text}</div>
    </div>
  );
}
