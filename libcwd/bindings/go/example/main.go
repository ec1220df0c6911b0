// The whole story through the Go binding, against the library's in-process devnet: a
// player links a CrowdWiz account, deposits CWD (credited through the event callback),
// wins a round, withdraws (paid, once). Exits 0 when every check holds.
//
//	./run    (libcwd/bindings/go/run: builds this with the library and runs it)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	cwd "crowdwiz.local/cwdgateway"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "FAILED: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("OK: the whole story passed")
}

// events is what the event callback feeds: it only appends (the callback runs on the
// library's threads and must not call the gateway), and the story's goroutine waits.
type events struct {
	mu     sync.Mutex
	queue  []string
	notify chan struct{}
}

func newEvents() *events { return &events{notify: make(chan struct{}, 1)} }

func (q *events) push(eventJSON string) {
	q.mu.Lock()
	q.queue = append(q.queue, eventJSON)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// wait takes events until one of type typ satisfies match (nil: any), or the timeout.
func (q *events) wait(typ string, timeout time.Duration, match func(map[string]interface{}) bool) (map[string]interface{}, error) {
	deadline := time.After(timeout)
	for {
		q.mu.Lock()
		pending := q.queue
		q.queue = nil
		q.mu.Unlock()
		for i, text := range pending {
			var ev map[string]interface{}
			if err := decode(text, &ev); err != nil {
				return nil, fmt.Errorf("event is not JSON: %v: %s", err, text)
			}
			fmt.Printf("  event %s\n", text)
			if ev["type"] == typ && (match == nil || match(ev)) {
				q.mu.Lock()
				q.queue = append(pending[i+1:len(pending):len(pending)], q.queue...)
				q.mu.Unlock()
				return ev, nil
			}
		}
		select {
		case <-q.notify:
		case <-deadline:
			return nil, fmt.Errorf("no %s event within %s", typ, timeout)
		}
	}
}

func decode(text string, out interface{}) error {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	return d.Decode(out)
}

// integer reads a JSON number, or a number written as a string (as a node writes large
// integers).
func integer(v interface{}) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("not an integer: %#v", v)
}

func field(m map[string]interface{}, path ...string) interface{} {
	var v interface{} = m
	for _, k := range path {
		obj, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

func intField(m map[string]interface{}, path ...string) (int64, error) {
	n, err := integer(field(m, path...))
	if err != nil {
		return 0, fmt.Errorf("%s: %v in %v", strings.Join(path, "."), err, m)
	}
	return n, nil
}

// toml writes a TOML basic string (JSON's escapes are TOML's).
func toml(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type account struct {
	User    string `json:"user"`
	Balance int64  `json:"balance"`
	Frozen  int64  `json:"frozen"`
	Linked  *struct {
		Account   string `json:"account"`
		AccountID string `json:"account_id"`
	} `json:"linked"`
}

type withdrawal struct {
	WithdrawalID string `json:"withdrawal_id"`
	User         string `json:"user"`
	Game         int64  `json:"game"`
	Cwd          int64  `json:"cwd"`
	State        string `json:"state"`
}

func run() error {
	fmt.Printf("library: %s\n", cwd.Version())

	// 1. The devnet.
	devnet, infoJSON, err := cwd.StartDevnet(`{"block_ms": 200, "irreversible_lag": 2, "accounts": {"game-gateway": 1000, "alice-cwd": 500}}`)
	if err != nil {
		return fmt.Errorf("cwd_devnet_start: %w", err)
	}
	defer devnet.Close()
	var info struct {
		URL      string `json:"url"`
		ChainID  string `json:"chain_id"`
		Accounts map[string]struct {
			ID        string `json:"id"`
			ActiveWif string `json:"active_wif"`
			MemoWif   string `json:"memo_wif"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(infoJSON), &info); err != nil {
		return fmt.Errorf("devnet info: %v: %s", err, infoJSON)
	}
	gwKeys, alice := info.Accounts["game-gateway"], info.Accounts["alice-cwd"]
	if gwKeys.ActiveWif == "" || alice.MemoWif == "" {
		return fmt.Errorf("devnet info lacks the accounts' keys: %s", infoJSON)
	}
	fmt.Printf("devnet: %s, chain %s…, game-gateway %s, alice-cwd %s\n", info.URL, info.ChainID[:12], gwKeys.ID, alice.ID)

	// 2. The configuration and the keys.
	dir, err := os.MkdirTemp("", "cwd-go-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	config := fmt.Sprintf(`[gateway]
account = "game-gateway"
chain_id = %s
tick_interval_ms = 200

[node]
urls = [%s]

[rates]
deposit = { game_units = 90, per_cwd_units = 100000 }
withdrawal = { game_units = 100, per_cwd_units = 100000 }

[store]
path = %s

[link]
pow_bits = 0
`, toml(info.ChainID), toml(info.URL), toml(filepath.Join(dir, "gateway.db")))
	keys := fmt.Sprintf("active_wif = %s\nmemo_wif = %s\n", toml(gwKeys.ActiveWif), toml(gwKeys.MemoWif))

	// 3. The gateway, its event callback (it only queues), its timer.
	gw, err := cwd.New(config, keys, nil)
	if err != nil {
		return fmt.Errorf("cwd_gateway_new: %w", err)
	}
	defer gw.Close()
	q := newEvents()
	if err := gw.SetEventCallback(q.push); err != nil {
		return fmt.Errorf("set event callback: %w", err)
	}
	if err := gw.StartTimer(); err != nil {
		return fmt.Errorf("start timer: %w", err)
	}
	fmt.Println("gateway: created, event callback set, timer started")

	// 4. Link: the code reaches alice-cwd's wallet in an encrypted message.
	var link struct {
		CodeDigits int    `json:"code_digits"`
		TxID       string `json:"tx_id"`
	}
	if err := gw.CallJSON("start-link", map[string]interface{}{"user": "alice", "account": "alice-cwd"}, &link); err != nil {
		return fmt.Errorf("start-link: %w", err)
	}
	if link.CodeDigits <= 0 {
		return fmt.Errorf("start-link gave no code_digits")
	}
	codeRe := regexp.MustCompile(fmt.Sprintf(`(?:^|\D)(\d{%d})(?:\D|$)`, link.CodeDigits))
	code := ""
	for deadline := time.Now().Add(60 * time.Second); code == ""; {
		if time.Now().After(deadline) {
			return fmt.Errorf("no link code in alice-cwd's messages within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
		var inbox []map[string]interface{}
		text, err := devnet.Control("messages", fmt.Sprintf(`{"account": "alice-cwd", "memo_wif": %s}`, toml(alice.MemoWif)))
		if err != nil {
			return fmt.Errorf("devnet messages: %w", err)
		}
		if err := decode(text, &inbox); err != nil {
			return fmt.Errorf("devnet messages: %v: %s", err, text)
		}
		for _, m := range inbox {
			if m["op"] != "send_message" {
				continue
			}
			body, _ := m["message"].(string) // the decrypted memo (devnet/README.md, "messages")
			if match := codeRe.FindStringSubmatch(body); match != nil {
				code = match[1]
				fmt.Printf("link: start-link sent a %d-digit code (tx %s); alice-cwd's wallet reads %q\n", link.CodeDigits, link.TxID, body)
				break
			}
		}
	}
	var linked struct {
		Account   string `json:"account"`
		AccountID string `json:"account_id"`
	}
	if err := gw.CallJSON("confirm-link", map[string]interface{}{"user": "alice", "code": code}, &linked); err != nil {
		return fmt.Errorf("confirm-link: %w", err)
	}
	if linked.Account != "alice-cwd" || linked.AccountID != alice.ID {
		return fmt.Errorf("confirm-link linked %s (%s), not alice-cwd (%s)", linked.Account, linked.AccountID, alice.ID)
	}
	fmt.Printf("link: confirmed, alice -> %s (%s)\n", linked.Account, linked.AccountID)

	// 5. Deposit 10 CWD; credited through the event callback.
	if _, err := devnet.Control("transfer", fmt.Sprintf(`{"from": "alice-cwd", "to": "game-gateway", "amount": 1000000, "active_wif": %s}`, toml(alice.ActiveWif))); err != nil {
		return fmt.Errorf("devnet transfer: %w", err)
	}
	fmt.Println("deposit: alice-cwd sent 10 CWD (1000000 units) to game-gateway")
	credited, err := q.wait("deposit-credited", 60*time.Second, func(ev map[string]interface{}) bool { return ev["user"] == "alice" })
	if err != nil {
		return err
	}
	creditedCwd, err := intField(credited, "cwd")
	if err != nil {
		return err
	}
	creditedGame, err := intField(credited, "game")
	if err != nil {
		return err
	}
	creditedBalance, err := intField(credited, "balance")
	if err != nil {
		return err
	}
	if creditedCwd != 1000000 || creditedGame != 1000000*90/100000 || creditedBalance != 900 {
		return fmt.Errorf("deposit-credited: cwd %d game %d balance %d, expected 1000000, 900, 900", creditedCwd, creditedGame, creditedBalance)
	}
	fmt.Printf("deposit: credited %d game units for %d CWD units (deposit %v), balance %d\n", creditedGame, creditedCwd, credited["deposit_id"], creditedBalance)

	// 6. A won round.
	var adjusted struct {
		Balance  int64 `json:"balance"`
		Replayed bool  `json:"replayed"`
	}
	if err := gw.CallJSON("adjust-balance", map[string]interface{}{"user": "alice", "delta": 150, "idempotency_key": "round-1", "reason": "won a round"}, &adjusted); err != nil {
		return fmt.Errorf("adjust-balance: %w", err)
	}
	var acct account
	if err := gw.CallJSON("account", map[string]interface{}{"user": "alice"}, &acct); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	if acct.Balance != creditedBalance+150 || adjusted.Balance != acct.Balance {
		return fmt.Errorf("after adjust-balance +150: account balance %d (adjust said %d), expected %d", acct.Balance, adjusted.Balance, creditedBalance+150)
	}
	fmt.Printf("play: adjust-balance +150 (won a round), account balance %d\n", acct.Balance)

	// 7. Withdraw 500 game units: 500 * 100000 / 100 = 500000 CWD units (5 CWD).
	chainBalance := func() (int64, error) {
		var b map[string]interface{}
		text, err := devnet.Control("balance", `{"account": "alice-cwd"}`)
		if err != nil {
			return 0, fmt.Errorf("devnet balance: %w", err)
		}
		if err := decode(text, &b); err != nil {
			return 0, fmt.Errorf("devnet balance: %v: %s", err, text)
		}
		return intField(b, "amount")
	}
	before, err := chainBalance()
	if err != nil {
		return err
	}
	request := map[string]interface{}{"user": "alice", "game": 500, "idempotency_key": "out-1"}
	var w withdrawal
	if err := gw.CallJSON("request-withdrawal", request, &w); err != nil {
		return fmt.Errorf("request-withdrawal: %w", err)
	}
	const payout = 500 * 100000 / 100
	if w.WithdrawalID == "" || w.Game != 500 || w.Cwd != payout {
		return fmt.Errorf("request-withdrawal answered %+v, expected game 500, cwd %d", w, payout)
	}
	fmt.Printf("withdraw: %s requested, %d game units for %d CWD units, %s\n", w.WithdrawalID, w.Game, w.Cwd, w.State)
	confirmed, err := q.wait("withdrawal-confirmed", 60*time.Second, func(ev map[string]interface{}) bool {
		return field(ev, "withdrawal", "withdrawal_id") == w.WithdrawalID
	})
	if err != nil {
		return err
	}
	fmt.Printf("withdraw: %s confirmed in block %v (tx %v)\n", w.WithdrawalID, confirmed["block_num"], confirmed["tx_id"])
	if err := gw.CallJSON("account", map[string]interface{}{"user": "alice"}, &acct); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	if acct.Balance != creditedBalance+150-500 || acct.Frozen != 0 {
		return fmt.Errorf("after the withdrawal: balance %d frozen %d, expected %d and 0", acct.Balance, acct.Frozen, creditedBalance+150-500)
	}
	fmt.Printf("withdraw: account balance %d, frozen %d\n", acct.Balance, acct.Frozen)

	var again withdrawal
	if err := gw.CallJSON("request-withdrawal", request, &again); err != nil {
		return fmt.Errorf("request-withdrawal again: %w", err)
	}
	if again.WithdrawalID != w.WithdrawalID {
		return fmt.Errorf("the same request-withdrawal made a new withdrawal %s (first %s)", again.WithdrawalID, w.WithdrawalID)
	}
	// Let a few blocks and ticks pass: nothing more may be paid.
	time.Sleep(2 * time.Second)
	if err := gw.CallJSON("account", map[string]interface{}{"user": "alice"}, &acct); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	after, err := chainBalance()
	if err != nil {
		return err
	}
	if after-before != payout || acct.Balance != creditedBalance+150-500 {
		return fmt.Errorf("alice-cwd went %d -> %d (%+d), balance %d: expected exactly %+d and %d", before, after, after-before, acct.Balance, payout, creditedBalance+150-500)
	}
	fmt.Printf("withdraw: the same request again is %s (%s), alice-cwd on chain %d -> %d (+%d), paid once\n", again.WithdrawalID, again.State, before, after, after-before)

	// 8. Stop and free (the deferred Close calls free the gateway, then the devnet).
	if err := gw.StopTimer(); err != nil {
		return fmt.Errorf("stop timer: %w", err)
	}
	fmt.Println("gateway: timer stopped")
	return nil
}
