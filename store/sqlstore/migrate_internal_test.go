package sqlstore

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

// A database of the schema before rooms.member_count, with members, gets
// each room's count when it is migrated, and keeps it through joins and
// leaves after.
func TestMigrateCountsMembers(t *testing.T) {
	for _, d := range []Dialect{SQLite, Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dsn, driver := testenv.SQLiteDSN(filepath.Join(t.TempDir(), "old.db")), "sqlite"
			if d == Postgres {
				dsn, driver = testenv.PostgresSchema(t, ""), "pgx"
			}
			db, err := sql.Open(driver, dsn)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, db.Close()) })
			s, err := New(db, Options{Dialect: d})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })

			migs, err := loadMigrations(d)
			require.NoError(t, err)
			i := len(migs) - 1
			for !strings.Contains(migs[i].name, "member_count") {
				i--
			}
			require.NoError(t, s.migrate(ctx, migs[:i]), "the migrations before %s", migs[i].name)
			now := time.Now()
			for _, room := range []string{"busy", "quiet"} {
				_, err := db.ExecContext(ctx, `INSERT INTO rooms (id, name, description, type, max_users, is_private, created_by_id, created_at)
					VALUES ($1, $1, '', 'public', 10, false, 'alice', $2)`, room, s.arg(now))
				require.NoError(t, err)
			}
			for _, user := range []string{"alice", "bob", "carol"} {
				_, err := db.ExecContext(ctx, `INSERT INTO room_members (room_id, user_id, username, role, is_muted, joined_at)
					VALUES ('busy', $1, $1, 'member', false, $2)`, user, s.arg(now))
				require.NoError(t, err)
			}

			require.NoError(t, s.Migrate(ctx))
			count := func(room string) int {
				t.Helper()
				r, err := s.GetRoom(ctx, room)
				require.NoError(t, err)
				return r.MemberCount
			}
			require.Equal(t, 3, count("busy"))
			require.Equal(t, 0, count("quiet"))

			_, created, err := s.AddMember(ctx, realtime.Member{RoomID: "quiet", UserID: "dave", Username: "dave", Role: realtime.RoleMember, JoinedAt: now}, realtime.Limits{})
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, 1, count("quiet"))
			remaining, err := s.RemoveMember(ctx, "busy", "bob")
			require.NoError(t, err)
			require.Equal(t, 2, remaining)
			require.Equal(t, 2, count("busy"))
			// A member moved by hand (an operator's SQL) is counted in
			// the room it moved to.
			_, err = db.ExecContext(ctx, `UPDATE room_members SET room_id = 'quiet' WHERE room_id = 'busy' AND user_id = 'carol'`)
			require.NoError(t, err)
			require.Equal(t, 1, count("busy"))
			require.Equal(t, 2, count("quiet"))
		})
	}
}
