package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

const agentColumns = `id, name, type, status, episodes, reward, updated_at`

// UpsertAgent adds a, or replaces the agent with the same ID. A zero
// UpdatedAt means now.
func (db *DB) UpsertAgent(ctx context.Context, a Agent) error {
	if a.ID == "" {
		return errors.New("upsert agent: empty id")
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = db.now()
	}
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO agents (`+agentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name, type = excluded.type, status = excluded.status,
			episodes = excluded.episodes, reward = excluded.reward, updated_at = excluded.updated_at`),
		a.ID, a.Name, a.Type, a.Status, a.Episodes, a.Reward, timestamp(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("upsert agent %q: %w", a.ID, err)
	}
	return nil
}

// ListAgents returns every agent, ordered by ID (byte order).
func (db *DB) ListAgents(ctx context.Context) ([]Agent, error) {
	st, err := db.readStmt(ctx, `SELECT `+agentColumns+` FROM agents`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	rows, err := st.QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	agents := []Agent{}
	for rows.Next() {
		var a Agent
		if err := rows.Scan(&a.ID, &a.Name, &a.Type, &a.Status, &a.Episodes, &a.Reward, &a.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		a.UpdatedAt = a.UpdatedAt.UTC()
		agents = append(agents, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	slices.SortFunc(agents, func(a, b Agent) int { return strings.Compare(a.ID, b.ID) })
	return agents, nil
}
