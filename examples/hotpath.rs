//! Hot-path instruction counts under callgrind: `hotpath MODE N`.
fn main() {
    let mut a = std::env::args().skip(1);
    let mode = a.next().unwrap();
    let n: u64 = a.next().unwrap().parse().unwrap();
    goro::gomaxprocs(1);
    goro::run(move || match mode.as_str() {
        "gosched" => {
            let h = goro::go!(move || for _ in 0..n {
                goro::gosched()
            });
            for _ in 0..n {
                goro::gosched()
            }
            h.join().unwrap();
        }
        "chan" => {
            let (tx, rx) = goro::chan::<u64>(0);
            let (tx2, rx2) = goro::chan::<u64>(0);
            let h = goro::go!(move || for _ in 0..n {
                let v = rx.recv().unwrap();
                tx2.send(v).unwrap();
            });
            for i in 0..n {
                tx.send(i).unwrap();
                rx2.recv().unwrap();
            }
            h.join().unwrap();
        }
        "spawn" => {
            let hs: Vec<_> = (0..n).map(|i| goro::go!(move || i)).collect();
            for h in hs {
                h.join().unwrap();
            }
        }
        _ => panic!(),
    });
}
