//! The synthetic world of the scale scenarios: who its users are, what its
//! books say, and the keywords searched for.
//!
//! Everything is derived from numbers, so `bookstore generate` (which writes
//! the world straight into a database file) and the benchmark (which builds a
//! smaller one over HTTP when the server lacks it) agree on every id without
//! sharing any state. Book `n` is the same book wherever it is made.
//!
//! The text is Chinese, made of two-character words drawn with a Zipf
//! distribution from [`VOCABULARY`]: a few words appear in most books and
//! most words in few, so keyword queries range from very common to rare.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::types::NewBook;

/// The one password of every synthetic account. Generated files store one
/// hash (one salt) for all of them: they are test data, not real accounts.
pub const PASSWORD: &str = "synthetic-pw";

/// How many synthetic buyers the history scenario logs in as.
pub const HISTORY_BUYERS: usize = 10;

/// The stock every synthetic listing starts with: more than any benchmark
/// run can sell.
pub const INITIAL_STOCK: i64 = 1_000_000_000;

/// The funds every synthetic buyer starts with, in cents.
pub const INITIAL_FUNDS: i64 = 1_000_000_000_000_000;

pub fn seller_id(i: usize) -> String {
    format!("syn_seller_{i}")
}

/// Store `i` belongs to seller `i`.
pub fn store_id(i: usize) -> String {
    format!("syn_store_{i}")
}

pub fn buyer_id(i: usize) -> String {
    format!("syn_buyer_{i}")
}

pub fn book_id(n: usize) -> String {
    format!("syn-{n:07}")
}

/// The store that lists book `n` when there are `stores` stores.
pub fn store_of(n: usize, stores: usize) -> usize {
    n % stores
}

/// Words the synthetic text is made of, most frequent first.
pub const VOCABULARY: &[&str] = &[
    "小说", "历史", "生活", "城市", "文化", "时间", "记忆", "自然", "社会", "艺术", //
    "科学", "家庭", "旅行", "音乐", "哲学", "经济", "爱情", "童年", "战争", "故乡", //
    "思想", "文学", "诗歌", "散文", "教育", "心理", "宇宙", "山水", "河流", "海洋", //
    "森林", "动物", "植物", "医学", "政治", "法律", "戏剧", "电影", "摄影", "建筑", //
    "设计", "绘画", "书法", "烹饪", "茶叶", "园艺", "数学", "物理", "化学", "生物", //
    "地理", "天文", "网络", "编程", "数据", "算法", "机器", "工程", "商业", "管理", //
    "投资", "金融", "市场", "创业", "传记", "回忆", "青春", "友谊", "梦想", "冒险", //
    "侦探", "推理", "悬疑", "科幻", "奇幻", "神话", "传说", "民俗", "方言", "语言", //
    "翻译", "评论", "宗教", "伦理", "逻辑", "美学", "远方", "星空", "季节", "春天", //
    "夏天", "秋天", "冬天", "雨水", "月亮", "太阳", "道路", "铁路", "航海", "飞行", //
    "运动", "足球", "围棋", "象棋", "健康", "饮食", "睡眠", "孩子", "父亲", "母亲", //
    "老师", "学生", "医生", "农民", "工人", "士兵", "商人", "作家", "村庄", "工厂", //
    "港口", "草原", "沙漠", "冰川", "火山", "岛屿", "桥梁", "灯塔", "钟表", "地图", //
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: &[&str] = &[
    "明", "华", "静", "磊", "芳", "伟", "洁", "涛", "敏", "军", "霞", "平", "刚", "燕", "辉", "宁",
    "蕾", "晨", "远", "清", "安", "岚", "舟", "言",
];
const PUBLISHERS: &[&str] = &[
    "青禾出版社",
    "远山书局",
    "长河文艺出版社",
    "北辰科技出版社",
    "南窗书社",
    "明镜人文出版社",
    "白塔出版社",
    "星槎书局",
];
const CHAPTERS: &[&str] = &["第一章", "第二章", "第三章", "第四章", "第五章", "第六章"];

/// The description of synthetic book `n`, always the same for the same `n`.
pub fn book(n: usize) -> NewBook {
    let mut rng = StdRng::seed_from_u64(0x5EED_0000_0000 ^ n as u64);
    let zipf = Zipf::new(VOCABULARY.len());
    let word = |rng: &mut StdRng| VOCABULARY[zipf.sample(rng)];

    let (a, b) = (word(&mut rng), word(&mut rng));
    let title = match rng.gen_range(0..3) {
        0 => format!("{a}与{b}"),
        1 => format!("{a}的{b}"),
        _ => format!("{a}{b}札记"),
    };
    let author = format!(
        "{}{}{}",
        SURNAMES[rng.gen_range(0..SURNAMES.len())],
        GIVEN[rng.gen_range(0..GIVEN.len())],
        GIVEN[rng.gen_range(0..GIVEN.len())]
    );
    let intro: Vec<&str> = (0..12).map(|_| word(&mut rng)).collect();
    let content: Vec<String> = CHAPTERS[..rng.gen_range(3..=CHAPTERS.len())]
        .iter()
        .map(|c| format!("{c} {}", word(&mut rng)))
        .collect();
    let mut tags: Vec<String> = (0..3).map(|_| word(&mut rng).to_string()).collect();
    tags.sort_unstable();
    tags.dedup();

    NewBook {
        id: book_id(n),
        price: rng.gen_range(500..15_000),
        author_intro: Some(format!("{author}，长年关注{}。", word(&mut rng))),
        book_intro: Some(format!("一本关于{}的书。", intro.join("、"))),
        content: Some(content.join("\n")),
        publisher: Some(PUBLISHERS[rng.gen_range(0..PUBLISHERS.len())].to_string()),
        pub_year: Some(format!(
            "{}-{}",
            rng.gen_range(1980..2025),
            rng.gen_range(1..=12)
        )),
        pages: Some(rng.gen_range(80..800)),
        binding: Some(
            if rng.gen_bool(0.7) {
                "平装"
            } else {
                "精装"
            }
            .to_string(),
        ),
        isbn: Some(format!("978799{n:07}")),
        currency_unit: Some("元".to_string()),
        title,
        author: Some(author),
        tags,
        ..NewBook::default()
    }
}

/// A keyword to search for: any word of the vocabulary, each as likely.
pub fn keyword(rng: &mut impl Rng) -> &'static str {
    VOCABULARY[rng.gen_range(0..VOCABULARY.len())]
}

/// Draws indexes below `n`, index `k` with a probability proportional to
/// `1 / (k + 1)`.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|k| {
                total += 1.0 / (k + 1) as f64;
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut impl Rng) -> usize {
        let last = self.cumulative[self.cumulative.len() - 1];
        let x = rng.gen_range(0.0..last);
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_book_is_the_same_every_time_it_is_made() {
        let (a, b) = (book(42), book(42));
        assert_eq!(a.id, "syn-0000042");
        assert_eq!(
            (a.title, a.book_intro, a.price),
            (b.title, b.book_intro, b.price)
        );
        assert_ne!(book(43).book_intro, book(42).book_intro);
    }

    #[test]
    fn frequent_words_come_first() {
        let zipf = Zipf::new(VOCABULARY.len());
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = vec![0; VOCABULARY.len()];
        for _ in 0..20_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[10] && counts[10] > counts[100]);
    }

    #[test]
    fn vocabulary_words_are_distinct_pairs_of_characters() {
        let mut words = VOCABULARY.to_vec();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), VOCABULARY.len());
        assert!(VOCABULARY.iter().all(|w| w.chars().count() == 2));
    }
}
