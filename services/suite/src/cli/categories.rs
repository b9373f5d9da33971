//! Categories as offices write them: the display name, the code, the
//! inspection's 方面 wording (党的领导方面, 全面从严治党方面问题 …), the
//! source's classic phrasings (党的领导弱化 …) and a synonym list of the
//! office's own.

use std::collections::HashMap;
use std::path::Path;

use super::connect::Services;
use super::export::category_names;
use anyhow::Context;

/// Phrasings of the focus areas (巡察重点) that name a seeded category:
/// `(wording, category code)`.
const BUILT_IN: &[(&str, &str)] = &[
    ("党的领导弱化", "party-leadership"),
    ("加强党的领导", "party-leadership"),
    (
        "贯彻落实党的路线方针政策和党中央决策部署",
        "party-leadership",
    ),
    ("党的建设缺失", "party-building"),
    ("加强党的建设", "party-building"),
    ("基层党建", "party-building"),
    ("全面从严治党不力", "strict-governance"),
    ("落实全面从严治党", "strict-governance"),
    ("落实全面从严治党主体责任", "strict-governance"),
    ("党风廉政建设", "strict-governance"),
    ("干部选拔任用", "personnel-selection"),
    ("选人用人工作", "personnel-selection"),
    ("干部队伍建设", "personnel-selection"),
    ("意识形态工作", "ideology"),
    ("意识形态工作责任制", "ideology"),
    ("意识形态工作责任制落实", "ideology"),
    ("群众身边腐败和不正之风", "graft-close-to-the-people"),
    ("群众身边不正之风和腐败", "graft-close-to-the-people"),
    ("基层党组织软弱涣散", "weak-grassroots-organisations"),
    ("软弱涣散", "weak-grassroots-organisations"),
    ("惠民政策", "benefit-policies"),
    ("惠民惠农政策落实", "benefit-policies"),
    ("惠民惠农政策", "benefit-policies"),
];

/// Endings that wrap a category in the sheets' wording, cut in turn.
const WRAPPINGS: &[&str] = &["方面问题", "方面", "问题", "工作"];

/// The catalogue, by every name a row may use.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// Normalised name, code or synonym → code.
    by_name: HashMap<String, String>,
    /// `(display name, code)` of every category, for error messages.
    valid: Vec<(String, String)>,
}

impl Catalogue {
    /// Reads the category catalogue (ListCategories) and adds the built-in
    /// wordings and those of `synonyms` (lines `wording = category`, the
    /// category by name or code; `#` starts a comment).
    pub async fn load(services: &Services, synonyms: Option<&Path>) -> anyhow::Result<Self> {
        let mut catalogue = Self::default();
        for (name, display_name) in category_names(services).await? {
            let code = name.trim_start_matches("categories/").to_owned();
            catalogue.add(&display_name, &code);
            catalogue.add(&code, &code);
            catalogue.valid.push((display_name, code));
        }
        catalogue.valid.sort_by(|a, b| a.1.cmp(&b.1));
        for (wording, code) in BUILT_IN {
            if catalogue.valid.iter().any(|(_, c)| c == code) {
                catalogue.add(wording, code);
            }
        }
        if let Some(path) = synonyms {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the synonym list {}", path.display()))?;
            catalogue.add_synonyms(&text).map_err(|(line, message)| {
                anyhow::anyhow!("{}, line {line}: {message}", path.display())
            })?;
        }
        Ok(catalogue)
    }

    fn add(&mut self, name: &str, code: &str) {
        self.by_name.insert(normalise(name), code.to_owned());
    }

    /// Adds `wording = category` lines; refuses a line naming no category.
    pub fn add_synonyms(&mut self, text: &str) -> Result<(), (usize, String)> {
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let Some((wording, category)) = line.split_once(['=', '＝']) else {
                return Err((i + 1, format!("{line:?} is not `wording = category`")));
            };
            let Some(code) = self.resolve(category) else {
                return Err((
                    i + 1,
                    format!(
                        "{:?} is not a category; the categories are {}",
                        category.trim(),
                        self.valid_list()
                    ),
                ));
            };
            self.add(wording, &code);
        }
        Ok(())
    }

    /// The code a cell names, if any: as written, then without the
    /// wording around it (方面, 方面问题 …).
    pub fn resolve(&self, cell: &str) -> Option<String> {
        let mut key = normalise(cell);
        loop {
            if let Some(code) = self.by_name.get(&key) {
                return Some(code.clone());
            }
            let cut = WRAPPINGS
                .iter()
                .find_map(|w| key.strip_suffix(&normalise(w)).map(str::to_owned))?;
            if cut.is_empty() {
                return None;
            }
            key = cut;
        }
    }

    /// Every category as `name (code)`, for a refusal to list.
    pub fn valid_list(&self) -> String {
        self.valid
            .iter()
            .map(|(name, code)| format!("{name} ({code})"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[cfg(test)]
    fn seeded() -> Self {
        let mut c = Self::default();
        for (code, name) in [
            ("party-leadership", "党的领导"),
            ("strict-governance", "全面从严治党"),
            ("party-building", "党的建设"),
            ("ideology", "意识形态"),
        ] {
            c.add(name, code);
            c.add(code, code);
            c.valid.push((name.into(), code.into()));
        }
        for (wording, code) in BUILT_IN {
            if c.valid.iter().any(|(_, c)| c == code) {
                c.add(wording, code);
            }
        }
        c
    }
}

/// Compared without spaces, punctuation around the words and case.
pub fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| {
            !c.is_whitespace()
                && !matches!(
                    c,
                    '_' | '-' | '*' | '：' | ':' | '“' | '”' | '"' | '、' | '（' | '）' | '(' | ')'
                )
        })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wordings_offices_use() {
        let c = Catalogue::seeded();
        for (cell, code) in [
            ("党的领导", "party-leadership"),
            ("党的领导方面", "party-leadership"),
            ("全面从严治党方面", "strict-governance"),
            ("党的建设方面问题", "party-building"),
            ("“党的建设”方面", "party-building"),
            ("意识形态工作责任制落实方面", "ideology"),
            ("党的领导弱化问题", "party-leadership"),
            ("Party-Leadership", "party-leadership"),
        ] {
            assert_eq!(c.resolve(cell).as_deref(), Some(code), "{cell}");
        }
        assert_eq!(c.resolve("方面"), None);
        assert_eq!(c.resolve("财务管理方面"), None);
    }

    #[test]
    fn synonyms_of_the_office() {
        let mut c = Catalogue::seeded();
        c.add_synonyms("# 本办用语\n政治建设 = 党的领导\n思想建设＝party-building\n")
            .unwrap();
        assert_eq!(
            c.resolve("政治建设方面").as_deref(),
            Some("party-leadership")
        );
        assert_eq!(c.resolve("思想建设").as_deref(), Some("party-building"));
        let (line, message) = c.add_synonyms("\n作风建设 = 作风").unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("党的领导 (party-leadership)"), "{message}");
        assert!(c.add_synonyms("作风建设").is_err());
    }
}
