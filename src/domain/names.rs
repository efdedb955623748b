//! Names in words for the codes people read: Chengdu districts and zones, GB/T 4754-2017
//! industry sections, and the meanings of inspection result codes, in Chinese and English.
//!
//! Pure lookups for lists meant for people (the XLSX inspection list). An unknown code is shown
//! as the code itself rather than refused: a list must still print when a new district or zone
//! appears before this table learns its name. For simplicity only Chengdu (510100) is named;
//! the table is small and easy to extend.

use super::inspection::ResultCode;

/// Language of a list meant for people.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lang {
    /// Chinese, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Parses `zh` or `en` (any case); the empty string is the default, Chinese.
    pub fn parse(s: &str) -> Result<Lang, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "zh" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            _ => Err(format!(
                "`{}` is not a language (valid: zh, en)",
                s.escape_default()
            )),
        }
    }

    /// `zh` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// Picks the text of this language from a pair.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Chengdu's division codes (GB/T 2260) and zone ids with their names. Retired codes, which old
/// credit codes and old records still carry, name the district that replaced them.
const DISTRICTS: &[(&str, &str, &str)] = &[
    ("510100", "成都市", "Chengdu"),
    ("510104", "锦江区", "Jinjiang District"),
    ("510105", "青羊区", "Qingyang District"),
    ("510106", "金牛区", "Jinniu District"),
    ("510107", "武侯区", "Wuhou District"),
    ("510108", "成华区", "Chenghua District"),
    ("510112", "龙泉驿区", "Longquanyi District"),
    ("510113", "青白江区", "Qingbaijiang District"),
    ("510114", "新都区", "Xindu District"),
    ("510115", "温江区", "Wenjiang District"),
    ("510116", "双流区", "Shuangliu District"),
    ("510117", "郫都区", "Pidu District"),
    ("510118", "新津区", "Xinjin District"),
    ("510121", "金堂县", "Jintang County"),
    ("510122", "双流区", "Shuangliu District"),
    ("510124", "郫都区", "Pidu District"),
    ("510129", "大邑县", "Dayi County"),
    ("510131", "蒲江县", "Pujiang County"),
    ("510132", "新津区", "Xinjin District"),
    ("510181", "都江堰市", "Dujiangyan City"),
    ("510182", "彭州市", "Pengzhou City"),
    ("510183", "邛崃市", "Qionglai City"),
    ("510184", "崇州市", "Chongzhou City"),
    ("510185", "简阳市", "Jianyang City"),
    ("chengdu-hitech", "高新区", "Chengdu Hi-tech Zone"),
    ("tianfu-newarea", "天府新区", "Tianfu New Area"),
];

/// GB/T 4754-2017 sections A-T.
const SECTIONS: [(char, &str, &str); 20] = [
    (
        'A',
        "农、林、牧、渔业",
        "Agriculture, forestry, animal husbandry and fishery",
    ),
    ('B', "采矿业", "Mining"),
    ('C', "制造业", "Manufacturing"),
    (
        'D',
        "电力、热力、燃气及水生产和供应业",
        "Electricity, heat, gas and water production and supply",
    ),
    ('E', "建筑业", "Construction"),
    ('F', "批发和零售业", "Wholesale and retail trade"),
    (
        'G',
        "交通运输、仓储和邮政业",
        "Transport, storage and postal services",
    ),
    ('H', "住宿和餐饮业", "Accommodation and catering"),
    (
        'I',
        "信息传输、软件和信息技术服务业",
        "Information transmission, software and IT services",
    ),
    ('J', "金融业", "Finance"),
    ('K', "房地产业", "Real estate"),
    ('L', "租赁和商务服务业", "Leasing and business services"),
    (
        'M',
        "科学研究和技术服务业",
        "Scientific research and technical services",
    ),
    (
        'N',
        "水利、环境和公共设施管理业",
        "Water, environment and public facilities management",
    ),
    (
        'O',
        "居民服务、修理和其他服务业",
        "Resident services, repair and other services",
    ),
    ('P', "教育", "Education"),
    ('Q', "卫生和社会工作", "Health and social work"),
    (
        'R',
        "文化、体育和娱乐业",
        "Culture, sports and entertainment",
    ),
    (
        'S',
        "公共管理、社会保障和社会组织",
        "Public administration, social security and social organisations",
    ),
    ('T', "国际组织", "International organisations"),
];

/// Every result code with its meaning, in the order of the provincial system's list.
const RESULT_CODES: [(ResultCode, &str, &str); 18] = [
    (ResultCode::NoProblem, "未发现问题", "no problem found"),
    (
        ResultCode::FoodDrugViolation,
        "发现食品药品违法行为",
        "food or drug violation",
    ),
    (
        ResultCode::QualityViolation,
        "发现质量技术监督违法行为",
        "quality or technical-supervision violation",
    ),
    (
        ResultCode::OtherDepartmentViolation,
        "发现其他部门职责范围内的违法行为",
        "violation within another department's remit",
    ),
    (
        ResultCode::Unreachable,
        "通过登记的住所（经营场所）无法联系",
        "unreachable at the registered address",
    ),
    (
        ResultCode::Closed,
        "已关闭停业或正在组织清算",
        "closed or liquidating",
    ),
    (
        ResultCode::Refused,
        "不配合检查情节严重",
        "refused to cooperate (serious)",
    ),
    (ResultCode::Deregistered, "已注销", "deregistered"),
    (
        ResultCode::LicenceRevoked,
        "已被吊销营业执照",
        "business licence revoked",
    ),
    (
        ResultCode::RegistrationCancelled,
        "已撤销登记",
        "registration cancelled",
    ),
    (ResultCode::MovedOut, "已迁出", "moved out"),
    (
        ResultCode::ProblemPending,
        "发现问题待后续处理",
        "problem found, follow-up pending",
    ),
    (
        ResultCode::NotPublished,
        "未按规定公示应当公示的信息",
        "failed to publish required information",
    ),
    (
        ResultCode::FalseInformation,
        "公示信息隐瞒真实情况、弄虚作假",
        "published false information",
    ),
    (
        ResultCode::OtherViolation,
        "发现其他违法行为",
        "other violation",
    ),
    (
        ResultCode::Corrected,
        "发现问题已责令改正",
        "problem found and corrected on order",
    ),
    (
        ResultCode::NoActivity,
        "未发现开展本次抽查涉及的经营活动",
        "no business activity of the inspected kind found",
    ),
    (
        ResultCode::PublicSecurity,
        "发现治安违法行为",
        "public-security violation",
    ),
];

/// The district or zone named by a jurisdiction (a division code or zone id); an unknown one
/// is returned as given.
pub fn district(jurisdiction: &str, lang: Lang) -> &str {
    DISTRICTS
        .iter()
        .find(|(c, _, _)| *c == jurisdiction)
        .map(|(_, zh, en)| lang.pick(zh, en))
        .unwrap_or(jurisdiction)
}

/// The name of a GB/T 4754 section (`A`-`T`), or `None` for any other letter.
pub fn industry_section(section: char, lang: Lang) -> Option<&'static str> {
    SECTIONS
        .iter()
        .find(|(s, _, _)| *s == section)
        .map(|(_, zh, en)| lang.pick(zh, en))
}

/// An industry code in words: the section's name and the code, e.g. `住宿和餐饮业 H6210`; a code
/// whose first letter is not a section is returned as given.
pub fn industry(code: &str, lang: Lang) -> String {
    match code.chars().next().and_then(|c| industry_section(c, lang)) {
        Some(name) => format!("{name} {code}"),
        None => code.to_string(),
    }
}

/// The meaning of a result code.
pub fn result_meaning(code: ResultCode, lang: Lang) -> &'static str {
    RESULT_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, zh, en)| lang.pick(zh, en))
        // Every code is in the table (a test checks it); the fallback is never shown.
        .unwrap_or("")
}

/// Every result code (`1`, `3`-`12`, `A`-`G`) in the provincial system's order.
pub fn result_codes() -> impl Iterator<Item = ResultCode> {
    RESULT_CODES.iter().map(|(c, _, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn districts_zones_retired_and_unknown_codes() {
        assert_eq!(district("510104", Lang::Zh), "锦江区");
        assert_eq!(district("510107", Lang::En), "Wuhou District");
        assert_eq!(district("510122", Lang::Zh), "双流区");
        assert_eq!(district("510124", Lang::Zh), district("510117", Lang::Zh));
        assert_eq!(district("510132", Lang::En), "Xinjin District");
        assert_eq!(district("chengdu-hitech", Lang::Zh), "高新区");
        assert_eq!(district("tianfu-newarea", Lang::En), "Tianfu New Area");
        assert_eq!(district("310115", Lang::Zh), "310115");
        assert_eq!(district("some-zone", Lang::En), "some-zone");
    }

    #[test]
    fn every_section_a_to_t_has_a_name() {
        for c in 'A'..='T' {
            assert!(industry_section(c, Lang::Zh).is_some(), "{c}");
            assert!(industry_section(c, Lang::En).is_some(), "{c}");
        }
        assert_eq!(industry_section('U', Lang::Zh), None);
        assert_eq!(industry("H6210", Lang::Zh), "住宿和餐饮业 H6210");
        assert_eq!(industry("C", Lang::En), "Manufacturing C");
        assert_eq!(industry("Z99", Lang::Zh), "Z99");
        assert_eq!(industry("", Lang::Zh), "");
    }

    #[test]
    fn every_result_code_has_a_meaning_once() {
        let all: Vec<&str> = result_codes().map(|c| c.as_str()).collect();
        let expected = [
            "1", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "A", "B", "C", "D", "E", "F",
            "G",
        ];
        assert_eq!(all, expected);
        for s in expected {
            let c = ResultCode::parse(s).unwrap();
            assert!(!result_meaning(c, Lang::Zh).is_empty(), "{s}");
            assert!(!result_meaning(c, Lang::En).is_empty(), "{s}");
        }
        assert_eq!(
            result_meaning(ResultCode::NoProblem, Lang::Zh),
            "未发现问题"
        );
    }

    #[test]
    fn languages() {
        assert_eq!(Lang::parse(""), Ok(Lang::Zh));
        assert_eq!(Lang::parse("EN"), Ok(Lang::En));
        assert!(Lang::parse("fr").unwrap_err().contains("`fr`"));
    }
}
