import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** What authentication needs of a user. */
export interface UserCredentials {
  userId: number;
  username: string;
  passwordHash: string;
  sysadmin: boolean;
}

interface CredentialsRow {
  user_id: number;
  username: string;
  password_hash: string;
  sysadmin_flag: boolean;
}

function toCredentials(row: CredentialsRow): UserCredentials {
  return { userId: row.user_id, username: row.username, passwordHash: row.password_hash, sysadmin: row.sysadmin_flag };
}

@Injectable()
export class UserRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** User names are unique regardless of case, as the login form treats them. */
  async findCredentialsByUsername(username: string): Promise<UserCredentials | undefined> {
    const rows = await this.dataSource.query<CredentialsRow[]>(
      `SELECT user_id, username, password_hash, sysadmin_flag FROM wharf_user WHERE lower(username) = lower($1)`,
      [username],
    );
    return rows[0] ? toCredentials(rows[0]) : undefined;
  }

  async findCredentialsById(userId: number): Promise<UserCredentials | undefined> {
    const rows = await this.dataSource.query<CredentialsRow[]>(
      `SELECT user_id, username, password_hash, sysadmin_flag FROM wharf_user WHERE user_id = $1`,
      [userId],
    );
    return rows[0] ? toCredentials(rows[0]) : undefined;
  }
}
