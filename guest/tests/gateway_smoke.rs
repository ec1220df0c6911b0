mod support;
use support::*;

#[test]
fn smoke_link_deposit_withdraw() {
    let mut w = World::new(1);
    w.link("u1", "alice");
    w.deposit("alice", 200_000);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1"), (180, 0));
    let wd = w.gw.request_withdrawal("u1", cwd_gateway_guest::rates::WithdrawalAmount::Game(100), "k1").unwrap();
    w.gw.tick().unwrap();
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(v.state, cwd_gateway_guest::records::WdState::Confirmed, "{:?}", w.events());
    assert_eq!(w.balance("u1"), (80, 0));
}
