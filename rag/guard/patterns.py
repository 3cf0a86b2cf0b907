"""The patterns of the input guard (rag/guard.py), one table per category.

Every pattern runs on a *normalised* question (see `guard.normalise`): NFKC, case-folded, a few
look-alike letters and traditional characters folded, zero-width characters removed, and
  * `words`:  every run of non-letters/digits collapsed to one space ("ignore previous instructions");
  * `squash`: letters, digits and CJK only, leetspeak digits folded ("ignorepreviousinstructions"),
              which catches "i g n o r e", "ignore-previous_instructions", "1gn0re" and Chinese
              written with spaces or punctuation inside;
  * `raw`:    NFKC + case-folded, punctuation kept (role tags such as <|im_start|>, "### system").
Each entry is (name, form, regex). Patterns are written to need the *instruction-like* context
around a word ("ignore ... previous instructions", not "ignore"; "reveal your system prompt", not
"system"), so ordinary questions ("How do I ignore a pending transaction notification?", "What is
the system requirement for the app?", "如何忽略通知") pass: tests/test_guard.py holds both lists.
"""
from __future__ import annotations

import re

Pattern = tuple[str, str, re.Pattern[str]]

# ---------------------------------------------------------------- English building blocks
_IGNORE = r"(?:ignore|disregard|forget|override|overrule|bypass|discard|neglect|abandon)"
_PRIOR = r"(?:previous|prior|above|preceding|earlier|foregoing|initial|original|system|developer|hidden)"
_RULES = (r"(?:instructions?|directions?|directives?|rules?|guidelines?|commands?|constraints?|guardrails?|"
          r"restrictions?|programming|polic(?:y|ies)|prompt|context)")
_FILL = r"(?:(?:all|any|every|each|of|the|your|my|these|those|that|this|its|their|and)\s+)*"
_STRONG_SHOW = r"(?:reveal|leak|dump|expose|disclose|recite|echo|spell\s+out)"
_WEAK_SHOW = (r"(?:show|display|tell|give|send|list|share|print|output|repeat|copy|paste|write\s+out|type\s+out|"
              r"what\s+(?:is|are|was|were)|what\s+s|whats)")
_SECRET = r"(?:system|hidden|secret|internal|developer|confidential|underlying|initial|original)"
_ASKED = r"(?:prompt|prompts|instructions?|directives|configuration|guidelines|system\s+prompt)"
_NOT_A_TOPIC = (r"(?!\s+(?:for|on|about|to|regarding|when|if|how|in\s+the\s+(?:app|form|manual|document|guide|email)|"
                r"of\s+(?:the\s+)?(?:bank|app|product|account|card|loan|transfer|form|process)))")
_YOU_ARE = r"(?:you\s+are|you\s*re|u\s+r|you\s+will\s+be)"

_INJECTION_EN: list[tuple[str, str, str]] = [
    ("ignore-instructions", "words", rf"\b{_IGNORE}\s+{_FILL}{_PRIOR}\s+(?:\w+\s+)?{_RULES}\b"),
    ("ignore-all-instructions", "words", rf"\b{_IGNORE}\s+(?:all|any|every|your)\s+(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
                                         r"(?:instructions?|directions|directives?|rules|guidelines|commands|"
                                         r"guardrails|restrictions|programming|policies|constraints)\b"),
    ("ignore-the-above", "words", r"\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+|anything\s+)?(?:of\s+)?"
                                  r"(?:what\s+(?:is|was|came|comes)\s+)?(?:the\s+)?(?:above|before)\b"),
    ("forget-everything", "words", r"\b(?:forget|ignore|disregard)\s+(?:everything|all|anything)\s+(?:you\s+(?:know|were|"
                                   r"have\s+been|ve\s+been|learned|learnt)|i\s+(?:said|told)|(?:that\s+)?you\s+were\s+told|"
                                   r"before\s+this|up\s+to\s+(?:now|here|this\s+point))"),
    ("do-not-follow", "words", r"\b(?:do\s+not|don\s*t|stop|no\s+longer|never)\s+(?:follow|obey|adhere\s+to|comply\s+"
                               rf"with|listen\s+to)\s+{_FILL}(?:(?:your|previous|prior|above|system|original|initial|"
                               r"earlier|developer)\s+(?:instructions?|programming|guidelines|directives|system\s+prompt|"
                               r"prompt)|(?:previous|prior|above|system|original|initial|earlier)\s+rules)\b"),
    ("new-instructions-colon", "raw", r"\b(?:new|updated|override|admin|real|actual)\s+(?:instructions?|directives?|task|"
                                      r"system\s+prompt)\s*[:：]|\bsystem\s+prompt\s*[:：]"),
    ("you-are-now", "words", rf"\b{_YOU_ARE}\s+now\b(?!\s+(?:able|open|closed|charging|offering|available|providing|"
                             r"accepting|requiring|supporting|using|sending|processing))"),
    ("from-now-on", "words", r"\bfrom\s+now\s+on\s*,?\s*(?:you|respond|answer|reply|act|only|always|never|ignore|"
                             r"pretend|speak|talk|behave|your)\b"),
    ("pretend", "words", r"\bpretend\s+(?:that\s+)?(?:you\s+are|you\s*re|to\s+be|you\s+have\s+no|you\s+can|you\s+were|"
                         r"you\s+don\s*t|there\s+are\s+no)\b"),
    ("act-as", "words", r"\b(?:act|behave|respond|answer|reply|roleplay|role\s+play|speak)\s+(?:as\s+if|as\s+though|like)"
                        r"\s+(?:you\s+(?:are|were|have|had|can)|an?\s+(?:ai|assistant|chatbot|model|llm))|\broleplay\s+as\b|"
                        r"\b(?:act|behave)\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|evil|jailbroken|"
                        r"rogue|dan|linux\s+terminal|ai\s+without|assistant\s+without|my\s+(?:deceased|late|dead)\s+grandm)"),
    ("your-system-prompt", "words", rf"\b(?:your|ur|yours|the\s+(?:ai|assistant|bot|model|chatbot)\s*s)\s+(?:\w+\s+)?"
                                    rf"{_SECRET}\s*(?:prompt|message|instructions)\b"),
    ("system-prompt", "words", r"\b(?:system|developer|hidden|secret|internal|meta)\s*prompt\b(?=\s*$|\s+(?:verbatim|"
                               r"word\s+for\s+word|exactly|in\s+full|above|you\s+(?:were|are|have|got|received)|"
                               r"that\s+you|text|contents?)\b)"),
    ("reveal-instructions", "words", rf"\b{_STRONG_SHOW}\s+(?:me\s+|us\s+)?(?:(?:all|of|the|your|its|every|word|words|"
                                     rf"everything|exactly|verbatim|above|ur)\s+)*(?:{_SECRET}\s+)?{_ASKED}\b{_NOT_A_TOPIC}"),
    ("show-your-instructions", "words", rf"\b{_WEAK_SHOW}\s+(?:me\s+|us\s+)?(?:(?:all|of|the|every|word|words|everything|"
                                        rf"exactly|verbatim|above)\s+)*(?:(?:your|ur)\s+(?:{_SECRET}\s+)?|"
                                        rf"(?:the\s+)?{_SECRET}\s+){_ASKED}\b{_NOT_A_TOPIC}"),
    ("your-prompt", "words", r"\b(?:your|ur)\s+prompt\b(?=\s*$|\s+(?:verbatim|word\s+for\s+word|exactly|in\s+full|above|"
                             r"text|contents?)\b)"),
    ("repeat-above", "words", r"\b(?:repeat|print|output|echo|recite|copy|paste|show|display|return|write\s+out|type\s+out)"
                              r"\s+(?:(?:me|back|all|the|of|everything|every|text|words?|lines?|sentences?|messages?|"
                              r"content|verbatim|exactly|that)\s+)*(?:above|before\s+this|preceding|prior\s+to\s+this|"
                              r"from\s+the\s+(?:very\s+)?(?:beginning|start|top))\b"),
    ("what-were-you-told", "words", r"\bwhat\s+(?:were|are|have)\s+you\s+(?:been\s+)?(?:told|instructed|programmed|"
                                    r"prompted|configured)\b|\bwhat\s+(?:is|was)\s+(?:written|said)\s+(?:at\s+the\s+"
                                    r"(?:very\s+)?(?:beginning|start|top)|above|before)"),
    ("developer-mode", "words", r"\b(?:you\s+are|you\s*re|you\s+will\s+be|act|acting|behave|respond|simulate|pretend|"
                                r"emulate|your|enter|activate)\b[^.?!]{0,20}\bdeveloper\s+mode\b(?!\s+on\s+(?:my|the|your|"
                                r"an?)\s+(?:phone|device|android|iphone|computer|pc|mac|laptop|browser|tablet))|"
                                r"\bdeveloper\s+mode\s+(?:enabled|activated|output|response)\b|\bdeveloper\s+mode\b"
                                r"[^.?!]{0,40}\b(?:polic(?:y|ies)|uncensored|unrestricted|censor\w*|openai|chatgpt|"
                                r"no\s+restrictions)\b|\b(?:god|sudo|jailbreak|unrestricted|unfiltered|opposite|evil|dan)"
                                r"\s+mode\b"),
    ("dan", "words", r"\bdo\s+anything\s+now\b|\b(?:you\s+are|you\s*re|act\s+as|called|named|as|be|become|"
                     r"play)\s+dan\b|\bdan\s+(?:mode|prompt|jailbreak)\b|\bstay\s+in\s+character\b"),
    ("jailbreak", "words", r"\bjailbreak(?:ing)?\s+(?:mode|prompt|you|yourself|the\s+(?:ai|model|assistant|bot|chat))|"
                           r"\b(?:you\s+(?:are|re|ve\s+been|have\s+been)|you\s*re)\s+(?:now\s+)?(?:jailbroken|freed|"
                           r"unrestricted|unfiltered|uncensored|unchained|unlocked)\b|\b(?:without|no|free\s+of|free\s+from)"
                           r"\s+(?:any\s+)?(?:ethical|moral|safety|content)\s+(?:guidelines|restrictions|limits|"
                           r"filters|constraints|boundaries|polic(?:y|ies)|rules)\b|\b(?:unfiltered|uncensored|"
                           r"unrestricted)\s+(?:ai|assistant|model|chatbot|response|answer|version\s+of\s+you)\b|"
                           r"\bbypass\s+(?:your|all|any)\s+(?:safety|content|ethical|security)?\s*"
                           r"(?:filters?|guardrails?|restrictions|rules|polic(?:y|ies)|safeguards)\b"),
    ("ignore-policy", "words", r"\b(?:ignore|disregard|bypass|override|circumvent|violate)\s+(?:the\s+|your\s+|all\s+|any\s+|"
                               r"openai\s*s\s+)*(?:content|safety|usage|ethical|moral)\s+(?:polic(?:y|ies)|guidelines|"
                               r"filters?|rules|restrictions)\b"),
    ("say-pwned", "words", r"\b(?:say|print|output|respond\s+with|reply\s+with|answer\s+with|write)\s+(?:only\s+)?"
                           r"(?:the\s+word\s+)?(?:pwned|hacked|owned|i\s+have\s+been\s+pwned)\b"),
    ("instructions-squashed", "squash", r"(?:ignore|disregard|forget)(?:all|the|your|any|of)*(?:previous|prior|above|"
                                        r"earlier|preceding|system)(?:instructions?|prompt|rules|directions|guidelines)|"
                                        r"disregard(?:all|the|any)*(?:previous|prior|above|earlier|preceding)|"
                                        r"revealyour(?:system)?(?:prompt|instructions)|developermodeenabled|"
                                        r"jailbreakmode|doanythingnow|youarenowdan"),
]

_ROLE_TAGS: list[tuple[str, str, str]] = [
    ("chat-template-token", "raw", r"<\|\s*(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|eom_id|"
                                   r"start_header_id|end_header_id|begin_of_text|end_of_text|end|start|"
                                   r"fim_\w+|tool|ipython)\s*\|>"),
    ("inst-tag", "raw", r"\[\s*/?\s*(?:inst|sys|system)\s*\]|<<\s*/?\s*sys\s*>>"),
    ("markdown-role-heading", "raw", r"(?:^|\n)\s*#{2,6}\s*(?:system|instructions?|assistant|user|human|response|"
                                     r"new\s+instructions?|system\s+prompt|系统|指令|系统提示词|助手)\s*(?:[:：]|\n|$)"),
    ("fake-xml-role", "raw", r"<\s*/?\s*(?:system|passage|passages|instructions?|assistant|user|admin|developer|"
                             r"im_start|tool|system_prompt)\s*(?:\s[^>]*)?>"),
    ("role-prefix", "raw", r"(?:^|\n)\s*(?:system|assistant|developer)\s*(?:message|prompt)?\s*[:：]\s*(?:you|ignore|"
                           r"disregard|forget|from|new|the\s+(?:user|assistant)|忽略|你)"),
]

# ---------------------------------------------------------------- Chinese ("squash" form: no spaces or punctuation)
_ZH_IGNORE = r"(?:忽略|无视|忽视|不要理会|不理会|不用理会|不要管|别管|不用管|抛开|抛弃|忘记|忘掉|绕过|撇开|摒弃)"
_ZH_PRIOR = (r"(?:之前|以前|先前|此前|前面|上面|上述|以上|上文|前文|原来|原先|原有|原本|所有|全部|一切|任何|你的|"
             r"你收到的|系统|预设|默认|开发者|初始)")
_ZH_RULES = r"(?:指令|指示|规则|设定|提示词|提示语|命令|约束|限制|规定|要求|规范|准则|prompt|instructions?)"
_YOU = r"你(?!们|好)"
_ZH_SHOW = r"(?:输出|显示|展示|告诉|打印|透露|泄露|泄漏|重复|复述|说出|给我看|发给我|列出|念出|写出|公开|暴露|讲出|贴出)"

_INJECTION_ZH: list[tuple[str, str, str]] = [
    ("zh-ignore-instructions", "squash", rf"{_ZH_IGNORE}掉?.{{0,8}}?{_ZH_PRIOR}.{{0,8}}?{_ZH_RULES}"),
    ("zh-ignore-above", "squash", r"(?:忽略|无视|忽视|不要理会|不理会|忘记|忘掉|抛开)掉?(?:之前|以上|上面|前面|上述|上文|前文)"
                                  r"(?:的|说的|所说的)?(?:所有|全部|一切|内容|文字|话|文本|对话|消息|说明)"),
    ("zh-do-not-follow", "squash", rf"(?:不要|不再|不必|无需|不用|停止|别再?)(?:遵守|遵循|服从|听从|执行|理会|按照)"
                                   rf".{{0,8}}?(?:{_ZH_PRIOR}|你的|系统).{{0,6}}?{_ZH_RULES}"),
    ("zh-you-are-now", "squash", rf"{_YOU}(?:现在|从现在起|从此|此刻|今后)(?:是|扮演|作为|处于|成为|变成|就是|已经是|进入|"
                                 r"叫|名叫|已被)(?!否|不是|几点|几号|营业|开门|上班|在线)"),
    ("zh-from-now-on", "squash", rf"(?:从现在开始|从现在起|从今以后|接下来|从此以后){_YOU}(?:是|要|将|必须|只能|"
                                 r"扮演|作为|不再|应该|需要|就是|只会)"),
    ("zh-role-play", "squash", rf"(?:{_YOU}|请)(?:将|要|来|现在)?(?:扮演|假装|假扮|充当|化身)|假装{_YOU}是|假设{_YOU}是一?个?"
                               rf"(?:没有|不受|无)|{_YOU}不再是|{_YOU}的新(?:身份|角色|任务|指令)|角色扮演"),
    ("zh-system-prompt", "squash", r"系统提示词|系统提示语|初始指令|原始指令|隐藏指令|内部指令|秘密指令|预设指令|"
                                   r"系统prompt"),
    ("zh-reveal-prompt", "squash", rf"{_ZH_SHOW}(?:一下|出)?(?:我|我们)?(?:{_YOU}的|{_YOU}|您的)(?:系统|初始|原始|全部|完整|"
                                   rf"隐藏|内部)?(?:提示|提示词|提示语|指令|设定|prompt)|{_YOU}的(?:系统|初始|原始|"
                                   rf"隐藏|内部)?(?:提示词|提示语|指令|设定|prompt)(?:是什么|有哪些|是啥|内容)|"
                                   rf"{_YOU}(?:收到|接收|被给予|被设定|被赋予)的(?:指令|提示|设定|规则)"),
    ("zh-repeat-above", "squash", r"(?:重复|复述|原样输出|逐字输出|输出|打印|念出|写出|贴出|重复一遍)(?:一下|一遍)?"
                                  r"(?:上面|以上|前面|之前|上文|前文|最开始|开头)(?:的|所有的|全部的)?(?:所有|全部)?"
                                  r"(?:内容|文字|话|指令|文本|句子|消息)"),
    ("zh-developer-mode", "squash", rf"{_YOU}(?:现在|已经|已|将|要|必须)?(?:处于|进入|切换到|切换至|在|运行在|以)"
                                    r"(?:开发者|开发人员|调试|上帝|越狱|无限制|管理员|超级用户)模式|"
                                    r"(?:开发者|上帝|越狱|无限制|dan)模式.{0,15}?(?:不受|不再受|无限制|审查|过滤|约束|没有限制|"
                                    r"任何限制|任何规则|已启用|已开启|已激活|内容政策|安全政策|忽略|无视)|(?:进入|开启|启用|激活|切换到|切换至)"
                                    r"(?:上帝|越狱|无限制|dan)模式"),
    ("zh-jailbreak", "squash", rf"越狱(?:模式|提示|指令|后的{_YOU})|(?:{_YOU}|ai|助手|模型).{{0,10}}越狱|越狱.{{0,10}}"
                               rf"{_YOU}|(?:不受|没有|无视|摆脱|解除|突破|绕过)(?:任何)?(?:道德|伦理|安全|内容)(?:的)?"
                               rf"(?:限制|约束|准则|审查|规范|过滤)|{_YOU}.{{0,6}}(?:不受|没有|不再受|无需遵守)任何(?:的)?"
                               r"(?:规则|限制|约束|规定|审查)|"
                               r"(?:忽略|无视|绕过|违反|不要遵守|不再遵守)(?:所有|任何|一切)?(?:的)?(?:内容政策|安全政策|"
                               r"安全规定|安全准则|内容审查|道德准则|使用政策|内容限制|安全限制)|"
                               r"(?:无限制|不受限制|无审查|无过滤)的(?:ai|助手|模型|机器人|回答|版本)"),
    ("zh-dan", "squash", r"dan模式|doanythingnow|做任何事(?:情)?的(?:ai|助手|模型)|立即做任何事"),
    ("zh-say-pwned", "squash", r"(?:只)?(?:回答|输出|说|回复|打印)(?:一句)?(?:pwned|hacked|已被入侵|我被黑了)"),
]

# ---------------------------------------------------------------- other knowledge bases / tenants
_KB = r"(?:knowledge\s*bases?|kbs?|tenants?)"
_OTHER = (r"(?:other|another|different|all|every|each|any\s+other|someone\s+else\s*s|other\s+people\s*s|all\s+the|"
          r"every\s+single|all\s+other|every\s+other)")
_PEOPLE = r"(?:customers?|users?|clients?|tenants?|account\s+holders?|people|persons?|members?|patients?|students?|employees?)"
_DATA = (r"(?:data|accounts?|records?|balances?|transactions?|information|info|details|names|emails?|phones?|"
         r"phone\s+numbers?|addresses|ssns?|social\s+security\s+numbers?|passwords?|documents?|files?|history|"
         r"statements?|card\s+numbers?|pii)")
_DATA_WORD = r"(?:account|personal|private|contact|bank|card|financial|login|credit\s+card|medical|full)"

_CROSS_KB: list[tuple[str, str, str]] = [
    ("other-kb", "words", rf"\b{_OTHER}\s+(?:of\s+)?(?:the\s+)?(?:other\s+)?{_KB}\b"),
    ("switch-kb", "words", r"\b(?:switch|change|move|jump|go|connect|escalate)\s+(?:over\s+)?(?:to|into)\s+(?:the\s+|a\s+|"
                           r"another\s+|other\s+|different\s+)?(?:\w+\s+){0,3}?(?:knowledge\s*base|kb|tenant)\b"),
    ("kb-param", "raw", r"--kb\b|\bkb(?:_id|_name)?\s*=\s*\S|\btenant(?:_id)?\s*=\s*\S|\bkb_id\b|\bkb_name\b"),
    ("access-kb", "words", r"\b(?:access|query|search|read|open|load|use|dump|export|list|show|enumerate|browse)\s+(?:me\s+)?"
                           r"(?:the\s+)?(?:kb|knowledge\s*base|tenant)\s+(?:named|called|belonging|owned)\b"),
    ("cross-tenant", "words", r"\bcross\s*(?:tenant|kb|knowledge\s*base)\b|\bacross\s+(?:all\s+)?(?:the\s+)?"
                              r"(?:knowledge\s*bases|kbs|tenants)\b|\bwhich\s+(?:other\s+)?(?:knowledge\s*bases|kbs|"
                              r"tenants)\b"),
    ("other-customers-data", "words", rf"\b(?:(?:list|dump|export|print|display|reveal|retrieve|fetch|output|enumerate|"
                                      rf"download|leak|extract|show)\s+(?:me\s+|us\s+)?|(?:give|tell|send)\s+(?:me|us)\s+)"
                                      rf"(?:the\s+)?(?:data\s+of\s+)?(?:all|every|each|other|everyone|everybody|another|"
                                      rf"all\s+other|all\s+the|every\s+other|the\s+other)\s+{_PEOPLE}(?:\s*s)?\s+"
                                      rf"(?:{_DATA_WORD}\s+)?{_DATA}\b"),
    ("everyones-data", "words", rf"\b(?:everyone|everybody|someone\s+else|other\s+{_PEOPLE}|every\s+{_PEOPLE}|"
                                rf"all\s+{_PEOPLE})\s*s?\s+(?:{_DATA_WORD}\s+)?(?:passwords?|balances?|ssns?|card\s+numbers?|"
                                r"personal\s+data|pii|phone\s+numbers|home\s+addresses)\b"),
    ("zh-other-kb", "squash", r"(?:其他|其它|别的|另一个|另外的?|另个|所有|全部|每个|每一个|任何|任意|别人的|其他人的|其他用户的|"
                              r"其他客户的)(?:的)?(?:知识库|租户|命名空间|资料库|文档库|索引库)"),
    ("zh-switch-kb", "squash", r"(?:切换|转到|跳到|换到|改用)(?:到|至)?.{0,10}?(?:知识库|租户)|(?:访问|查询|读取|打开|搜索|"
                               r"进入|使用)(?:一下)?(?:名为|叫做?|名叫|编号为?|id为?).{0,12}?(?:知识库|租户)|"
                               r"(?:知识库|租户)(?:id|编号|名称)(?:为|是)"),
    ("zh-cross-tenant", "squash", r"跨(?:知识库|租户|库)"),
    ("zh-other-customers-data", "squash", r"(?:列出|显示|导出|输出|查看|告诉我|给我|发给我|打印|泄露|透露|获取|下载|查询)"
                                          r"(?:一下)?(?:(?:所有|全部|每个|每一个|每位|其他|其它|别的)(?:的)?(?:客户|用户|"
                                          r"租户|人|会员|病人|患者|学生|员工)|别人|其他人|所有人|每个人)的?(?:数据|信息|"
                                          r"账户|账号|资料|余额|交易|记录|名单|手机号|电话|身份证|密码|卡号|地址|邮箱)"),
]


def _compile(table: list[tuple[str, str, str]]) -> list[Pattern]:
    return [(name, form, re.compile(rx)) for name, form, rx in table]


INJECTION: list[Pattern] = _compile(_ROLE_TAGS + _INJECTION_EN + _INJECTION_ZH)
CROSS_KB: list[Pattern] = _compile(_CROSS_KB)
