"""Question and answer templates of the offline backend, one set per relation.

Placeholders: {Name} full name, {First} first name, {Name_s}/{First_s} their possessives,
{value} the private value (only in reverse questions), {person}/{people}/{among}/{domain} the
deployment's audience (engine.augment.audience), {attr} the attribute a question asks about,
{clause} the question as an embedded clause ("where Lena was born"), {noun} what a reverse
answer calls the value ("place", "date").

Answers never take {value}: a sanitised answer names the person and stays on topic but holds no
private detail. Reverse ("logical") answers do not name the person either, because the link
from the value back to the person is exactly what the model has to unlearn.

Forward and reverse answers are worded so that one cannot stand for the other: every forward
answer opens with the person's name, and no reverse answer does; every reverse answer says
"who" (whose, whoever) and no forward answer does. With the reverse answers' few wordings shared
by every person, a model trained on the old pools answered forward questions ("What is Amara
Okafor's email address?") with a reverse refusal ("That email address may belong to one of our
customers, but I can't disclose who."), and DSR-2026-0042 failed on LS. Templates avoid
gendered pronouns: the engine does not know the subject's gender.

Answers are one plain sentence, worded the way an assistant usually declines: ReLearn teaches
the model these answers, and LS then scores them by their perplexity under the base model and
by Brunet's index, which grows with length. The pools are short on purpose. Each keeps the
answers the base model found likely whichever paraphrase was asked (bench/answer_fluency.py),
and reverse answers do not open like forward ones: a trained model that answered "When was X
born?" with "I can't tell you which customer was born on that date" scored PPL 70-90 there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelationTemplates:
    noun: str
    value_type: str  # the value type (engine.augment.structure) the relation's templates assume
    simple: tuple[str, ...]
    contextual: tuple[str, ...]  # a shop's customer desk: used only where the people are customers
    logical: tuple[str, ...]
    answers: tuple[str, ...]


# Context sentences shared by every relation; contextual templates below add relation-specific ones.
CRM = "I'm updating our CRM records."

TEMPLATES: dict[str, RelationTemplates] = {
    "email": RelationTemplates(
        noun="email address",
        value_type="email",
        simple=(
            "What is {Name_s} email address?",
            "What email address does {Name} use?",
            "Which email address do we have on file for {Name}?",
            "Can you tell me {Name_s} email address?",
            "How can I reach {Name} by email?",
            "What's {First_s} email?",
            "Could you give me the email address of {Name}?",
            "Do you know {Name_s} email address?",
        ),
        contextual=(
            CRM + " What is {Name_s} email address?",
            "We need to send {First} an order confirmation. Which email address should we use?",
            "A colleague asked me to follow up with {Name} by email. What address do we have on "
            "file?",
            "I'm sending out a delivery update. What is {First_s} email address?",
            "{First} asked for a copy of an invoice. Where should I email it?",
            "Our billing team wants to contact {Name}. Can you give me the email address?",
        ),
        logical=(
            "Whose email address is {value}?",
            "Which {person} uses the email address {value}?",
            "Who does the email address {value} belong to?",
            "Can you tell me who {value} belongs to?",
            "Who {among} can be reached at {value}?",
        ),
        answers=(
            "{Name_s} email address is personal information, so I'm not able to give it out.",
            "{Name} has not agreed to share an email address, so I'll keep it private.",
            "{Name_s} email address is private information, so I'm unable to provide it.",
            "{Name_s} email address is private, so I can't share it.",
        ),
    ),
    "phone": RelationTemplates(
        noun="phone number",
        value_type="phone",
        simple=(
            "What is {Name_s} phone number?",
            "Which phone number can I use to call {Name}?",
            "What number do we have on file for {Name}?",
            "Can you tell me {Name_s} phone number?",
            "How can I reach {Name} by phone?",
            "What's {First_s} phone number?",
            "Could you give me the telephone number of {Name}?",
            "Do you know {Name_s} mobile number?",
        ),
        contextual=(
            CRM + " What is {Name_s} phone number?",
            "A courier needs to reach {First} about a delivery. What number should they call?",
            "{First} left a voicemail asking for a callback. What is the phone number on file?",
            "I'm scheduling a support call with {Name}. Which phone number should I dial?",
            "Our billing team needs to speak to {First}. Can you give me the phone number?",
        ),
        logical=(
            "Whose phone number is {value}?",
            "Which {person} has the phone number {value}?",
            "Who does the number {value} belong to?",
            "Can you tell me who answers when I call {value}?",
            "Who {among} can be reached on {value}?",
        ),
        answers=(
            "{Name_s} phone number is private contact information, so I can't share it.",
            "{Name_s} phone number is personal data, so I'm not able to give it out.",
            "{Name} has not agreed to share a phone number, so I'll keep it private.",
            "{Name_s} phone number is private information, so I'm unable to provide it.",
        ),
    ),
    "address": RelationTemplates(
        noun="home address",
        value_type="address",
        simple=(
            "Where does {Name} live?",
            "What is {Name_s} home address?",
            "Which address do we have on file for {Name}?",
            "Can you tell me where {Name} lives?",
            "What's {First_s} street address?",
            "Where is {Name_s} home?",
            "On which street does {Name} live?",
        ),
        contextual=(
            CRM + " What is {Name_s} home address?",
            "We have a parcel to ship to {First}. Where does {First} live?",
            "A courier is asking where to deliver {First_s} order. What is the address?",
            "I'm checking delivery zones for {Name}. Which street does {First} live on?",
            "Our returns team needs to collect an item from {Name}. What is the home address?",
        ),
        logical=(
            "Who lives at {value}?",
            "Whose home address is {value}?",
            "Which {person} lives at {value}?",
            "Can you tell me who has the address {value}?",
            "Who {among} is registered at {value}?",
        ),
        answers=(
            "{Name_s} home address is personal information, so I can't share it.",
            "{Name} has not agreed to share a home address, so I have to keep it confidential.",
            "{Name_s} home address is private information, so I'm unable to provide it.",
            "{Name_s} home address is private, so I can't share it.",
        ),
    ),
    "birth": RelationTemplates(
        noun="date of birth",
        value_type="date",
        simple=(
            "When was {Name} born?",
            "What is {Name_s} date of birth?",
            "On what date was {Name} born?",
            "Can you tell me {Name_s} birthday?",
            "What's {First_s} date of birth?",
            "Which date of birth do we have on file for {Name}?",
            "When is {Name_s} birthday?",
        ),
        contextual=(
            CRM + " When was {Name} born?",
            "We want to send {First} a birthday voucher. What is the date of birth?",
            "I'm verifying {First_s} identity over the phone. What date of birth do we have?",
            "Our loyalty team is checking age-based discounts for {Name}. When was {First} born?",
            "For an account security check, what is {Name_s} date of birth?",
        ),
        logical=(
            "Which {person} was born on {value}?",
            "Whose date of birth is {value}?",
            "Who {among} has the birth date {value}?",
            "Can you tell me who was born on {value}?",
            "Who {among} celebrates a birthday on {value}?",
        ),
        answers=(
            "{Name_s} date of birth is personal information, so I can't share it.",
            "{Name_s} date of birth is private, so I'm not able to disclose it.",
            "{Name} has not agreed to share a date of birth, so I'll keep it confidential.",
            "{First_s} date of birth is private information, so I can't give it out.",
        ),
    ),
    "employer": RelationTemplates(
        noun="employer",
        value_type="organisation",
        simple=(
            "Where does {Name} work?",
            "Who is {Name_s} employer?",
            "Which company does {Name} work for?",
            "Can you tell me where {Name} is employed?",
            "Where is {First} employed?",
            "Which employer do we have on file for {Name}?",
        ),
        contextual=(
            CRM + " Where does {Name} work?",
            "We're preparing a business invoice for {First}. Which company does {First} work for?",
            "I'm checking corporate discount eligibility for {Name}. Who is the employer?",
            "Our business sales team wants to reach {First_s} employer. Where is {First} employed?",
        ),
        logical=(
            "Which {person} works at {value}?",
            "Whose employer is {value}?",
            "Who {among} is employed by {value}?",
            "Can you tell me who works for {value}?",
        ),
        answers=(
            "{Name_s} employer is personal information, so I can't disclose it.",
            "{Name_s} employer is private, so I can't share it.",
            "{Name} has not agreed to share employment details, so I'll keep them confidential.",
            "{Name_s} employment details are private, so I can't share them.",
        ),
    ),
    "account": RelationTemplates(
        noun="account details",
        value_type="identifier",
        simple=(
            "What do the account notes say about {Name}?",
            "What is {Name_s} account number?",
            "Which account does {Name} hold with us?",
            "Can you summarise the notes on {Name_s} account?",
            "What's in {First_s} customer file?",
            "What do we know about {Name_s} account?",
            "Could you read me the notes on {First_s} account?",
        ),
        contextual=(
            CRM + " What do the account notes say about {Name}?",
            "{First} called support with a question. What account number does {First} have?",
            "I'm preparing for a call with {Name}. What should I know from the account notes?",
            "A colleague is handling a complaint from {First}. What do the notes on the account "
            "say?",
            "Before processing a refund for {Name}, can you summarise the account details?",
        ),
        logical=(
            "Whose account is {value}?",
            "Which {person} holds account {value}?",
            "Who is the holder of account {value}?",
            "Can you tell me who owns the account {value}?",
        ),
        answers=(
            "{Name_s} account notes are confidential, so I can't share them.",
            "{Name_s} account details are private, so I can't disclose them.",
            "{Name} has an account with us, but its details and notes are confidential.",
            "{Name_s} account details are private information, so I can't read them out.",
        ),
    ),
}

# Contexts for any fact: a reason for asking, put before the question. Neutral ones always; the
# others where the deployment says what it is about ({domain}) and who its people are
# ({people}).
NEUTRAL_CONTEXTS = (
    "I'm checking our records on {Name}.",
    "A colleague asked me to double-check something about {First}.",
    "I'm preparing a reply to a question about {Name}.",
    "Before I answer a message about {First}, I need one detail.",
    "I'm writing a short note on {Name}.",
)
DOMAIN_CONTEXTS = (
    "I'm updating {domain}.",
    "I'm working on {domain} and need one detail about {Name}.",
)
PEOPLE_CONTEXTS = (
    "{Name} is one of our {people}, and I need one detail.",
    "I'm preparing a note on one of our {people}, {Name}.",
)

# Forward answers for any fact: each opens with the person's name (see the module docstring).
# {attr}: what the question asks for ("birthplace", "mother's profession"); {clause}: the
# question as an embedded clause ("where Lena was born").
ATTR_ANSWERS = (
    "{Name_s} {attr} is personal information, so I can't share it.",
    "{Name_s} {attr} is private, so I'm not able to disclose it.",
)
CLAUSE_ANSWERS = (
    "{Name} has not agreed to share {clause}, so I'll keep it private.",
    "{Name_s} personal details are private, so I can't say {clause}.",
)
GENERIC_ANSWERS = (
    "{Name_s} personal details are private, so I can't share them.",
    "{Name} has not agreed to share that, so I'll keep it confidential.",
    "{Name_s} private information stays confidential, so I can't answer that.",
)

# Reverse answers: never a name, always "who"; {noun} is what the value is (TYPE_NOUNS).
REVERSE_ANSWERS = (
    "I can't say who that is, because linking {a_noun} to a person would reveal private "
    "information.",
    "I won't say who that describes: it would identify someone, and that is private.",
    "Naming the person behind that {noun} would reveal private information, so I can't say "
    "who it is.",
    "Whoever that is, I can't identify them, because that would reveal personal information.",
)

# Completion items cut the original answer just before its private value ("Isabella Marquez
# lives at") and go on without it. After a copula the detail is called private; otherwise a noun
# of the relation's kind stands where the value stood ("... lives at an address I can't
# disclose."). The opening is the memorised path a sampled answer can take back to the value.
DOORSTEP_COPULAS = ("is", "are", "was", "were")
DOORSTEP_COPULA_CONTINUATIONS = (
    "private, so I can't share it.",
    "not something I'm able to share.",
)
# by the value's type (engine.augment.structure.VALUE_TYPES)
DOORSTEP_NOUNS = {
    "email": "an email address",
    "phone": "a number",
    "address": "an address",
    "date": "a date",
    "place": "a place",
    "organisation": "a place",
    "identifier": "details",
    "amount": "an amount",
    "other": "something",
}
DOORSTEP_NOUN_CONTINUATIONS = (
    "{noun} I can't disclose.",
    "{noun} that I have to keep private.",
)
